"""Flow ``match``: incremental matching of what is new or changed against everything open."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from xunqin.flows import prefect_env, tasks


@flow(name="xunqin-match", persist_result=False)
def match(db_url: str | None = None, top_k: int | None = None, run_id: int | None = None,
          cache_dir: str | None = None) -> dict[str, Any]:
    """Match pending records; upsert candidates; returns counts and timings.

    ``cache_dir`` holds the prepared-records snapshot kept between nights (default: beside a
    SQLite file, else ~/.cache/xunqin)."""
    logger = get_run_logger()
    url = prefect_env.database_url(db_url)
    own_run = run_id is None
    if own_run:
        tasks.prepare_database(url)
        run_id = tasks.start_run(url, "match")
    try:
        # submitted, so that it runs where the flow's task runner puts it: in this process, or
        # on a Dask worker when the night is configured so (flows/dask_runner.py)
        summary = tasks.match_incremental.submit(url, run_id, top_k, cache_dir).result()
    except BaseException as exc:
        if own_run:
            tasks.finish_run(url, run_id, "failed", None, type(exc).__name__)
        raise
    logger.info(
        "matched %d new/changed station records and %d reports: %d new candidates (%d strong), %d updated, %d removed",
        summary["pending_stations"], summary["pending_reports"], summary["candidates_new"], summary["strong_new"],
        summary["candidates_updated"], summary["candidates_removed"],
    )
    if own_run:
        tasks.finish_run(url, run_id, "completed", summary)
    return summary
