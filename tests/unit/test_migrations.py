"""The schema comes from the migrations alone, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import Base, db


def test_migrations_build_the_whole_schema_without_drift(committing_database, tmp_path):
    app = committing_database.app(tmp_path)
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        assert "alembic_version" in tables
        db.engine.dispose()
