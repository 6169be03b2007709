"""A named lock held in the workstation database itself, so that two nights never run at once,
with or without a Prefect server, on SQLite and on PostgreSQL.

The ``locks`` row says who holds the lock (host, process id and start time) and since when.
On PostgreSQL a session-level advisory lock is held beside it on a connection kept open for
the lock's life: the server drops it when that connection dies, so a killed night never blocks
the next one, from whatever machine it runs. On SQLite (one machine) a row whose process is no
longer alive is stale and is taken over. Either way a take-over is reported, never silent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .db import engine
from .models import Lock, utcnow

NIGHT = "nightly"


class LockHeld(RuntimeError):
    """The lock is held by a live holder."""

    def __init__(self, name: str, holder: str, since: dt.datetime | None) -> None:
        when = since.isoformat(timespec="seconds") if since else "?"
        super().__init__(f"另一个夜间任务正在运行 (another {name} run holds the lock): {holder}, since {when}")
        self.holder, self.since = holder, since


@dataclass(frozen=True)
class Acquired:
    """What taking the lock found: the stale holder taken over, if any."""

    name: str
    holder: str
    stale_holder: str | None = None
    stale_since: dt.datetime | None = None


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' elsewhere: with the pid it
    names one process, not a later one given the same pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def this_holder() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def holder_alive(holder: str) -> bool:
    """Whether a holder written by :func:`this_holder` on this host is still running. A holder
    on another host counts as alive (only PostgreSQL, whose advisory lock decides, sees those)."""
    host, _, rest = holder.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname():
        return True
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return not ticks or _start_ticks(pid) == ticks


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"xunqin:{name}".encode()).digest()[:8], "big", signed=True)


def _write_row(conn: sa.Connection, name: str, holder: str, run_id: int | None) -> tuple[str, dt.datetime] | None:
    """Replace the lock row; returns the row that was there (holder, since), if any."""
    before = conn.execute(sa.select(Lock.holder, Lock.acquired_at).where(Lock.name == name)).first()
    conn.execute(sa.delete(Lock).where(Lock.name == name))
    conn.execute(sa.insert(Lock).values(name=name, holder=holder, run_id=run_id, acquired_at=utcnow()))
    return None if before is None else (before[0], before[1])


@contextmanager
def held(url: str, name: str = NIGHT, run_id: int | None = None) -> Iterator[Acquired]:
    """Hold lock ``name`` for the ``with`` block; raises :class:`LockHeld` when a live holder has it."""
    holder = this_holder()
    eng = engine(url)
    if eng.dialect.name == "postgresql":
        conn = eng.connect()
        try:
            got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(_advisory_key(name)))).scalar_one()
            if not got:
                row = conn.execute(sa.select(Lock.holder, Lock.acquired_at).where(Lock.name == name)).first()
                conn.rollback()
                raise LockHeld(name, row[0] if row else "?", row[1] if row else None)
            before = _write_row(conn, name, holder, run_id)
            conn.commit()
            try:
                yield Acquired(name, holder, *(before or (None, None)))
            finally:
                with _release_failure_is_stale():
                    conn.execute(sa.delete(Lock).where(Lock.name == name, Lock.holder == holder))
                    conn.commit()
        finally:
            # a pooled connection outlives close(): the advisory lock must go with this session
            conn.invalidate()
            conn.close()
        return
    with eng.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer decides at a time
        row = conn.execute(sa.select(Lock.holder, Lock.acquired_at).where(Lock.name == name)).first()
        if row is not None and holder_alive(row[0]):
            conn.rollback()
            raise LockHeld(name, row[0], row[1])
        before = _write_row(conn, name, holder, run_id)
        conn.commit()
    try:
        yield Acquired(name, holder, *(before or (None, None)))
    finally:
        with _release_failure_is_stale(), eng.begin() as conn:
            conn.execute(sa.delete(Lock).where(Lock.name == name, Lock.holder == holder))


@contextmanager
def _release_failure_is_stale() -> Iterator[None]:
    """A lock row that cannot be deleted (disk full, server gone) is left behind: its holder
    ends with this process, so the next run finds it stale and takes it over, saying so. The
    error that stopped the run is the one to report, not this one."""
    try:
        yield
    except sa.exc.SQLAlchemyError:
        pass
