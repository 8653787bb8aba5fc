"""Engine, sessions and migrations for the configured database (SQLite file by default, or PostgreSQL).

Migrations are Alembic's, run from code (at startup and by ``partnership db
upgrade``) so that no ``alembic.ini`` has to be found relative to the working
directory.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["MIGRATIONS", "Database", "StorageFull", "empty_postgres", "is_storage_full", "make_engine", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# At 64 concurrent submitters the old pool (20 + 10, 30 s timeout) ran dry and answered 500s while requests
# held their authentication session's connection and waited for the model (bench/api_load.py,
# docs/reliability.md). Authentication now gives the connection back at once (api/deps.py); the pool stays
# large anyway: SQLite connections are only file handles; PostgreSQL stays under its default 100.
SQLITE_OVERFLOW = 300
POSTGRES_OVERFLOW = 60
POOL_TIMEOUT = 120  # as long as a submission may wait for the model (Batcher.predict): wait, do not fail
_FULL_MESSAGES = ("database or disk is full", "no space left on device", "could not extend file", "disk quota exceeded")


class StorageFull(RuntimeError):
    """The database could not grow (disk, tmpfs or quota full); the transaction was rolled back whole."""


def is_storage_full(exc: BaseException) -> bool:
    """True for SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100) or an ENOSPC, however SQLAlchemy wraps it."""
    if isinstance(exc, StorageFull):
        return True
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(original, "sqlite_errorcode", None) == 13 or getattr(original, "sqlstate", None) == "53100":
        return True
    if isinstance(original, OSError) and original.errno == errno.ENOSPC:
        return True
    return any(message in str(original).lower() for message in _FULL_MESSAGES)


def empty_postgres(url: str, schema: str = "public", *, recreate: bool = True) -> str:
    """Drop and recreate ``schema`` in the PostgreSQL database at ``url``: every table and row in it is gone.

    For tests and benchmarks that need an empty database of their own; returns ``url`` in the driver form
    the service uses (psycopg 3), ready for ``Settings(database_url=...)``. Another ``schema`` than public
    gives each process its own tables in one database (the returned URL sets ``search_path``), so test runs
    side by side do not drop each other's tables; ``recreate=False`` only drops it (cleaning up after them).
    """
    from api.settings import Settings  # the settings module imports this one

    if not schema.isidentifier():
        raise ValueError(f"not a plain schema name: {schema!r}")
    parsed = make_url(Settings(database_url=url).database)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    if schema != "public":
        parsed = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(parsed)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if recreate:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine tuned for the service: SQLite in WAL mode with foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=SQLITE_OVERFLOW,
            pool_timeout=POOL_TIMEOUT,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - exercised through every query
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url, pool_size=20, max_overflow=POSTGRES_OVERFLOW, pool_timeout=POOL_TIMEOUT, pool_pre_ping=True
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class Database:
    """One engine and its session factory; ``session()`` is a unit of work committed as a whole."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back (nothing half-stored) on any error; a full
        disk is raised as :class:`StorageFull` so the service can say so (507) instead of failing with a 500."""
        try:
            with self.sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            if is_storage_full(exc):
                raise StorageFull(f"the {self.backend} database has no space left; this write was rolled back") from exc
            raise

    def dispose(self) -> None:
        self.engine.dispose()
