"""Connecting to the workstation database and bringing its schema up to date (Alembic, no .ini)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .url import DEFAULT_URL, URL_ENV, database_url  # noqa: F401 - db.database_url(), db.URL_ENV stay where callers use them

def describe_target(url: str) -> str:
    """The database named for a message: a SQLite file's path, else the server and database
    (never the password)."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    return u.set(password=None).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL: readers (the review app) do not block the nightly writer; FKs are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@cache
def engine(url: str) -> sa.Engine:
    """One engine per URL per process (engines hold the connection pool)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]  # psycopg 3, not psycopg2
    # Readable JSON in the database (Chinese as is, not \u escapes), and a third smaller.
    # hide_parameters: a failing statement's error text (which Prefect logs) must not carry the
    # names, ID numbers or phones it was writing.
    eng = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                           json_serializer=lambda o: json.dumps(o, ensure_ascii=False))
    if eng.dialect.name == "sqlite":
        sa.event.listen(eng, "connect", _sqlite_pragmas)
    return eng


def sessions(url: str) -> sessionmaker[Session]:
    """A session factory bound to the engine of ``url``."""
    return sessionmaker(engine(url), expire_on_commit=False)


def checkpoint(url: str) -> None:
    """On SQLite, copy the write-ahead log into the database file now (a run ends with the file
    holding all it wrote, so a copy of the file alone is a backup of it); nothing elsewhere."""
    eng = engine(url)
    if eng.dialect.name != "sqlite":
        return
    try:
        with eng.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except sa.exc.DBAPIError:
        pass  # a reader holds the log: SQLite's own checkpoints finish it later


@contextmanager
def sqlite_page_cache(connection: sa.Connection, kib: int) -> Iterator[None]:
    """On SQLite, a page cache of ``kib`` KiB for the statements run inside, then the size it
    had (which frees the rest: a pooled connection does not keep it); elsewhere nothing."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def dispose(url: str) -> None:
    """Close this process's connections to ``url``."""
    engine(url).dispose()


def alembic_config(eng: sa.Engine | None = None):  # type: ignore[no-untyped-def]
    """Alembic Config built in code; the connection is handed over through ``attributes``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("xunqin.store") / "migrations"))
    if eng is not None:
        # Not through set_main_option: a '%' in a password would break configparser.
        cfg.attributes["engine"] = eng
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or migrate the schema of the database at ``url``."""
    from alembic import command

    eng = engine(url)
    cfg = alembic_config(eng)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest revision among the migrations shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
