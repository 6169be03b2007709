"""Connecting to the workstation database and bringing its schema up to date (Alembic, no .ini)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///xunqin.db"
URL_ENV = "XUNQIN_DB_URL"


def database_url(url: str | None = None) -> str:
    """The URL given, else $XUNQIN_DB_URL (read now, not at import), else a SQLite file here."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


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


def _no_autocheckpoint(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


@cache
def engine(url: str, bulk: bool = False) -> sa.Engine:
    """One engine per URL per process (engines hold the connection pool); ``bulk``: the engine
    of :func:`bulk_transaction`."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]  # psycopg 3, not psycopg2
    # Readable JSON in the database (Chinese as is, not \u escapes), and a third smaller.
    # hide_parameters: a failing statement's error text (which Prefect logs) must not carry the
    # names, ID numbers or phones it was writing.
    eng = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                           json_serializer=lambda o: json.dumps(o, ensure_ascii=False))
    if eng.dialect.name == "sqlite":
        sa.event.listen(eng, "connect", _sqlite_pragmas)
        if bulk:
            sa.event.listen(eng, "connect", _no_autocheckpoint)
    return eng


def sessions(url: str) -> sessionmaker[Session]:
    """A session factory bound to the engine of ``url``."""
    return sessionmaker(engine(url), expire_on_commit=False)


# Per database URL, the thread running its latest checkpoint (a chain: each waits for the one
# before it). State of the process, filled only by bulk_transaction.
_checkpoints: dict[str, threading.Thread] = {}
_checkpoints_lock = threading.Lock()


@contextmanager
def bulk_transaction(url: str) -> Iterator[Session]:
    """A transaction writing a night's bulk rows (an ingested file, the candidates).

    On SQLite its commit does not checkpoint the WAL: copying the new pages into the database
    file and syncing it was most of the commit's time (syncing pages that grow the file is
    slow), so a background thread does it while the night goes on; the data is safe once the
    commit returns (it is in the synced WAL). :func:`wait_checkpoints` waits for them.
    """
    sqlite = engine(url).dialect.name == "sqlite"
    with sessionmaker(engine(url, bulk=sqlite), expire_on_commit=False).begin() as session:
        yield session
    if sqlite:
        _checkpoint_later(url)


def _checkpoint(url: str, before: threading.Thread | None) -> None:
    if before is not None:
        before.join()
    try:
        with engine(url).connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except sa.exc.DBAPIError:
        pass  # a checkpoint left undone is done by the next one (or the next autocheckpoint)


def _checkpoint_later(url: str) -> None:
    with _checkpoints_lock:
        thread = threading.Thread(target=_checkpoint, args=(url, _checkpoints.get(url)),
                                  name="xunqin-wal-checkpoint", daemon=True)
        _checkpoints[url] = thread
        thread.start()


def wait_checkpoints(url: str) -> None:
    """Wait until the checkpoints started by bulk transactions on ``url`` are done."""
    with _checkpoints_lock:
        thread = _checkpoints.pop(url, None)
    if thread is not None:
        thread.join()


def dispose(url: str) -> None:
    """Close this process's connections to ``url`` (after its pending checkpoints)."""
    wait_checkpoints(url)
    engine(url).dispose()
    if engine(url).dialect.name == "sqlite":
        engine(url, bulk=True).dispose()


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
