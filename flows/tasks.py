"""Prefect tasks of the nightly batch: thin wrappers over ``steps``; inputs and outputs are
paths, ids and counts. Retries only where the work is I/O that may fail for a passing reason
(database connection, file system); the match step has none: it is one transaction, and a
failed match is resumed by the next run from the pending marks, not retried blindly.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from xunqin.flows import steps
from xunqin.store import db, runs

IO_RETRIES = 2
IO_RETRY_DELAYS = [5, 30]


@task(name="prepare-database", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def prepare_database(url: str) -> str | None:
    """Create or migrate the schema; returns the Alembic revision."""
    db.upgrade(url)
    return db.current_revision(url)


@task(name="start-run", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def start_run(url: str, flow: str) -> int:
    with db.sessions(url).begin() as s:
        runs.interrupt_stale_runs(s, flow)  # a run left 'running' was killed
        return runs.start_run(s, flow)


@task(name="finish-run", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def finish_run(url: str, run_id: int, status: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
    db.wait_checkpoints(url)  # the run ends with the database file holding all it wrote
    with db.sessions(url).begin() as s:
        runs.finish_run(s, run_id, status, summary, error)


@task(name="list-inbox", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def list_inbox(inbox: str) -> list[str]:
    return steps.list_inbox(inbox)


@task(name="take-file", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE,
      task_run_name="take-file-{path}")
def take_file(url: str, path: str, archive: str, quarantine: str, run_id: int | None) -> dict[str, Any]:
    return steps.take_file(url, path, archive, quarantine, run_id)


@task(name="put-back-all", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAYS, cache_policy=NO_CACHE)
def put_back_all(url: str, run_id: int | None) -> dict[str, int]:
    return steps.put_back_all(url, run_id)


@task(name="match-incremental", cache_policy=NO_CACHE)
def match_incremental(url: str, run_id: int | None, top_k: int | None = None,
                      cache_dir: str | None = None) -> dict[str, Any]:
    return steps.match_pending(url, run_id, top_k, cache_dir=cache_dir)
