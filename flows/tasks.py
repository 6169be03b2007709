"""Prefect tasks of the nightly batch: thin wrappers over ``steps``; inputs and outputs are
paths, ids and counts. Retries only where the work is I/O that may fail for a passing reason
(database connection, file system); the match step has none: it is one transaction, and a
failed match is resumed by the next run from the pending marks, not retried blindly.

Prefect keeps what a task returns or raises (in its result storage, its database, its logs).
So no task persists a result, and no exception leaves a task as it was raised: a database
error carries the statement's parameters (the names, phones and marks being written, even
with ``hide_parameters``, which only hides them from the message), PostgreSQL's message may
quote key values. :func:`scrubbed` turns it into a :class:`StepFailed` that names the step and
the kind of error only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from xunqin.flows import steps
from xunqin.store import db, runs

IO_RETRIES = 2
IO_RETRY_DELAYS = [5, 30]
P = ParamSpec("P")
R = TypeVar("R")


class StepFailed(RuntimeError):
    """A night step failed; the message holds the step, the error kind and, for files, the path."""


def describe(exc: BaseException) -> str:
    """What went wrong, without any value from the records: the error class, a database
    error's SQLSTATE or driver error class, a file error's path and reason."""
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        text = str(orig).splitlines()[0] if orig is not None and type(orig).__module__.startswith("sqlite3") else ""
        return " ".join(p for p in (type(exc).__name__, f"[{code}]" if code else "", text) if p)
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return type(exc).__name__
    if isinstance(exc, OSError):
        return f"{exc.filename or '-'}: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, StepFailed):
        return str(exc)
    return type(exc).__name__


def scrubbed(step: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Re-raise any error of ``step`` as :class:`StepFailed` (``from None``: the original, with
    its parameters, is neither chained nor pickled)."""
    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                message = f"{step}: {describe(exc)}"
                del exc  # the frame must not keep the original alive in a traceback
                raise StepFailed(message) from None
        return run
    return wrap


# Failures that a retry a few seconds later cannot mend: a full disk, a broken constraint.
PERMANENT = ("disk is full", "No space left", "[53100]", "IntegrityError", "[23")


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    return not any(mark in str(state.message or "") for mark in PERMANENT)


def private_task(name: str, *, io: bool = True, **options: Any) -> Callable[[Callable[P, R]], Any]:
    """``@task`` with xunqin's rules: never persisted, no cache, errors scrubbed; retries for I/O
    failures that may pass (a dropped connection, a locked file), not for a full disk."""
    def wrap(fn: Callable[P, R]) -> Any:
        retry = ({"retries": IO_RETRIES, "retry_delay_seconds": IO_RETRY_DELAYS, "retry_condition_fn": _worth_retrying}
                 if io else {})
        return task(name=name, persist_result=False, cache_policy=NO_CACHE, **retry, **options)(scrubbed(name)(fn))
    return wrap


@private_task("prepare-database")
def prepare_database(url: str) -> str | None:
    """Create or migrate the schema; returns the Alembic revision."""
    db.upgrade(url)
    return db.current_revision(url)


@private_task("recover-runs")
def recover_runs(url: str, flow: str) -> list[int]:
    """Runs of ``flow`` left 'running' by a killed process, now marked 'interrupted' (their
    writes were whole transactions: what they committed stays, the rest is redone)."""
    with db.sessions(url).begin() as s:
        return runs.interrupt_stale_runs(s, flow)


@private_task("start-run")
def start_run(url: str, flow: str) -> int:
    with db.sessions(url).begin() as s:
        runs.interrupt_stale_runs(s, flow)  # a run left 'running' was killed
        return runs.start_run(s, flow)


@private_task("finish-run")
def finish_run(url: str, run_id: int, status: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
    db.wait_checkpoints(url)  # the run ends with the database file holding all it wrote
    with db.sessions(url).begin() as s:
        runs.finish_run(s, run_id, status, summary, error)


@private_task("list-inbox")
def list_inbox(inbox: str) -> list[str]:
    return steps.list_inbox(inbox)


@private_task("take-file", task_run_name="take-file-{path}")
def take_file(url: str, path: str, archive: str, quarantine: str, run_id: int | None) -> dict[str, Any]:
    return steps.take_file(url, path, archive, quarantine, run_id)


@private_task("put-back-all")
def put_back_all(url: str, run_id: int | None) -> dict[str, int]:
    return steps.put_back_all(url, run_id)


@private_task("match-incremental", io=False)
def match_incremental(url: str, run_id: int | None, top_k: int | None = None,
                      cache_dir: str | None = None) -> dict[str, Any]:
    return steps.match_pending(url, run_id, top_k, cache_dir=cache_dir)


@private_task("retrain-if-due", io=False)
def retrain_if_due(url: str, run_id: int | None, cache_dir: str | None = None) -> dict[str, Any] | None:
    return steps.retrain_if_due(url, run_id, cache_dir=cache_dir)
