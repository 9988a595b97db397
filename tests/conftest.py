"""Fixtures: a fresh app per test on in-memory SQLite, or inside a rolled-back transaction on MariaDB."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from backend import create_app
from backend.db import db

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_MYSQL = DATABASE_URL.startswith("mysql")


def _b64(seed: bytes, size: int) -> str:
    return base64.b64encode((seed * size)[:size]).decode()


TEST_KEYS = {
    "ESHARE_FIELD_KEYS": f"t1:aes-256-gcm:{_b64(b'field-key-1', 32)}",
    "ESHARE_BLIND_INDEX_KEY": _b64(b"blind-index", 32),
    "ESHARE_TOKEN_KEY": _b64(b"token-key", 32),
    "ESHARE_RECEIPT_KEY": _b64(b"receipt", 32),
}


class FrozenClock:
    """The app's clock in tests: stands still until moved."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock() -> FrozenClock:
    # Monday 2026-03-02, 10:00 in Shanghai: an ordinary working day.
    return FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


def settings_for(tmp_path: Any, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "TESTING": True,
        "ESHARE_ENV": "development",
        "DATABASE_URL": DATABASE_URL or "sqlite://",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        **TEST_KEYS,
    }
    settings.update(overrides)
    return settings


def _mysql_server_url(url: str) -> sa.URL:
    return sa.make_url(url).set(database="")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str | None:
    """On MariaDB: the schema comes from the migrations, once per run."""
    if not ON_MYSQL:
        return None
    app = create_app(settings_for(tmp_path_factory.mktemp("migrate")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return DATABASE_URL


@pytest.fixture
def app(clock: FrozenClock, tmp_path: Any, migrated_database: str | None,
        app_settings: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(settings_for(tmp_path, **app_settings), clock=clock)
    with app.app_context():
        if not ON_MYSQL:
            db.create_all()
            yield app
            db.session.remove()
            db.engine.dispose()
            return
        # Each test runs inside one transaction that is rolled back; the app's own commits and
        # rollbacks become savepoints (join_transaction_mode="create_savepoint").
        engine = db.engine
        connection = engine.connect()
        transaction = connection.begin()
        engines = db.engines
        original = dict(engines)
        for key in engines:
            engines[key] = connection  # type: ignore[assignment]
        try:
            yield app
        finally:
            db.session.remove()
            transaction.rollback()
            connection.close()
            engines.update(original)
            engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Session:
    return db.session  # type: ignore[return-value]


@dataclass
class CommittingDatabase:
    """A database of its own, migrated, whose commits are real: for tests that race threads."""

    url: str

    def app(self, tmp_path: Any, clock: FrozenClock | None = None, **overrides: Any) -> Flask:
        return create_app(settings_for(tmp_path, DATABASE_URL=self.url, **overrides),
                          clock=clock or FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)))


@pytest.fixture
def committing_database(tmp_path: Any) -> Iterator[CommittingDatabase]:
    """A fresh MariaDB database (or SQLite file) built by `db upgrade`, dropped afterwards."""
    if ON_MYSQL:
        name = f"eshare_t_{uuid.uuid4().hex[:12]}"
        server = sa.create_engine(_mysql_server_url(DATABASE_URL))
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        url = sa.make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'committing.sqlite3'}"
    database = CommittingDatabase(url)
    migrator = database.app(tmp_path)
    with migrator.app_context():
        upgrade()
        db.engine.dispose()
    try:
        yield database
    finally:
        if ON_MYSQL:
            with server.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
            server.dispose()


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """Settings the `app` fixture adds; a test module overrides this fixture to point the app elsewhere."""
    return {}


@pytest.fixture
def fake_wechat() -> Iterator[Any]:
    """A fake WeChat API on 127.0.0.1 (tests/fakes/wechat.py); `.app_settings()` points the app at it."""
    from tests.fakes.wechat import FakeWeChat

    fake = FakeWeChat().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_realname() -> Iterator[Any]:
    """A fake real-name authority on 127.0.0.1 (tests/fakes/realname.py)."""
    from tests.fakes.realname import FakeRealName

    fake = FakeRealName().start()
    try:
        yield fake
    finally:
        fake.stop()
