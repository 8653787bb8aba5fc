"""Storage: migrations match the tables on every backend, run idempotently, and by `partnership db upgrade`."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import Settings, get_settings
from api.store.db import Database
from api.store.tables import Base


def test_migrations_create_exactly_the_declared_schema_and_rerun_cleanly(database_url):
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # idempotent: a restart migrates nothing
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(inspect(connection).get_table_names())
    db.dispose()
    assert diff == []
    assert {"users", "documents", "predictions", "reviews", "audit_events", "jobs", "alembic_version"} <= tables


def test_cli_db_upgrade(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("PARTNERSHIP_DATABASE_URL", database_url)
    monkeypatch.setenv("PARTNERSHIP_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "latest schema" in result.output


def test_database_url_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("PARTNERSHIP_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(var_dir=tmp_path).database == f"sqlite:///{tmp_path / 'partnership.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@localhost/db")
    assert Settings().database == "postgresql+psycopg://u:p@localhost/db"
    monkeypatch.setenv("PARTNERSHIP_DATABASE_URL", "postgres://v@host/other")
    assert Settings().database == "postgresql+psycopg://v@host/other"
