# The two commands of the README: `make serve` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app backend

.PHONY: setup serve test lint db demo

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt

db: setup
	$(FLASK) db upgrade

demo: db
	$(FLASK) seed-demo

# Install, migrate, load the demo district, serve on 127.0.0.1:5000.
serve: demo
	$(BIN)/gunicorn --workers 2 --bind 127.0.0.1:5000 --access-logfile - 'backend:create_app()'

# Install and run the whole suite (SQLite by default; MariaDB when DATABASE_URL says so).
test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check backend auth miniprogram_api notifications tests bench
	$(BIN)/mypy
