# The two commands of the README: `make serve` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app backend

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup system-deps serve test lint db demo

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The Chinese font of the receipt PDFs, and pdftotext with which the tests read them (Debian packages).
system-deps:
	@if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || ! command -v pdftotext >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq fonts-wqy-microhei poppler-utils; \
	fi

setup: $(BIN)/activate system-deps
	$(BIN)/pip install --quiet -r requirements-dev.txt

db: setup
	$(FLASK) db upgrade

demo: db
	$(FLASK) seed-demo

# Install, migrate, load the demo district, serve on 127.0.0.1:5000.
serve: demo
	$(BIN)/gunicorn --workers 2 --bind 127.0.0.1:5000 'backend:create_app()'

# Install and run the whole suite (SQLite by default; MariaDB when DATABASE_URL says so).
test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check backend auth miniprogram_api notifications tests bench
	$(BIN)/mypy
