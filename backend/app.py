"""The composition root: the only place that wires configuration, keys, extensions and blueprints."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify
from flask_migrate import Migrate
from werkzeug.exceptions import HTTPException

from backend.clock import Clock, system_clock
from backend.config import Config
from backend.db import db
from backend.errors import AppError
from backend.keys import load_keys
from backend.logs import configure_logging
from backend.protection import Protector, self_test

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
migrate = Migrate()


def create_app(test_config: Mapping[str, Any] | None = None, *, clock: Clock = system_clock,
               **collaborators: Any) -> Flask:
    """Build the app: settings from the environment (and `test_config` on top), collaborators injected."""
    config = Config.from_env(test_config)
    app = Flask("backend", instance_path=config.instance_path, instance_relative_config=True)
    _configure(app, config, clock, collaborators)
    _register_extensions(app, config)
    _register_blueprints(app)
    _register_error_handlers(app)
    _register_commands(app)
    return app


def _configure(app: Flask, config: Config, clock: Clock, collaborators: dict[str, Any]) -> None:
    self_test(config.field_cipher)
    keys = load_keys(config, app.instance_path)
    database_url = config.database_url or f"sqlite:///{Path(app.instance_path) / 'eshare.sqlite3'}"
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:///:memory:"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if database_url.startswith("mysql"):
        engine_options["connect_args"] = {"charset": "utf8mb4"}
    app.config.update(
        SECRET_KEY=config.secret_key or keys.token_key.hex(),
        TESTING=config.testing,
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        MAX_CONTENT_LENGTH=config.max_content_length,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["config"] = config
    app.extensions["clock"] = clock
    app.extensions["keys"] = keys
    app.extensions["protector"] = Protector(keys)
    app.extensions["collaborators"] = collaborators
    _wire_collaborators(app, config, clock, collaborators)
    configure_logging(app, config.log_level)


def _wire_collaborators(app: Flask, config: Config, clock: Clock, collaborators: dict[str, Any]) -> None:
    """External systems: what create_app was handed, else the real clients from config (no network here)."""
    from auth.wechat import HttpWeChat
    from backend.services.realname import DevelopmentVerifier, HttpRealNameVerifier

    wechat = collaborators.get("wechat") or HttpWeChat.from_config(config, clock)
    realname = collaborators.get("realname")
    if realname is None:
        # Production without REALNAME_API_BASE never gets here: Config.check refuses to start.
        realname = HttpRealNameVerifier(config.realname_api_base) if config.realname_api_base else DevelopmentVerifier()
    app.extensions["wechat"] = wechat
    app.extensions["realname"] = realname


def _register_extensions(app: Flask, config: Config) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)


def _register_blueprints(app: Flask) -> None:
    from auth.views import bp as staff_auth
    from backend.api.admin import bp as admin
    from backend.api.catalog import bp as catalog
    from backend.api.counter import bp as counter
    from backend.api.dept import bp as dept
    from backend.api.public import bp as public
    from backend.api.public import docs
    from backend.api.receipts import bp as receipts
    from backend.api.staff import bp as staff
    from miniprogram_api import bp as miniprogram

    for blueprint in (public, docs, staff_auth, staff, admin, catalog, dept, counter, receipts, miniprogram):
        app.register_blueprint(blueprint)


def _register_error_handlers(app: Flask) -> None:
    def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None,
                       headers: dict[str, str] | None = None) -> Response:
        response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
        response.status_code = status
        response.headers.update(headers or {})
        return response

    @app.errorhandler(AppError)
    def app_error(exc: AppError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        valid = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(valid)} if status == 405 and valid else None
        return error_response(status, code, exc.description or exc.name or "error", headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        logging.getLogger("eshare.errors").exception("unhandled error")
        return error_response(500, "internal_error",
                              f"an unexpected error occurred; quote request id {g.get('request_id', '-')}")


def _register_commands(app: Flask) -> None:
    from backend.cli import register

    register(app)
