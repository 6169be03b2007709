"""Flow ``ingest``: inbox files into the database; done files to the archive, refused ones to
quarantine with their reason, and the run goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from xunqin.flows import prefect_env, steps, tasks


@flow(name="xunqin-ingest", persist_result=False)
def ingest(inbox: str, db_url: str | None = None, archive: str | None = None, quarantine: str | None = None,
           run_id: int | None = None) -> dict[str, Any]:
    """Take every file waiting in ``inbox``; returns counts per file."""
    logger = get_run_logger()
    url = prefect_env.database_url(db_url)
    own_run = run_id is None
    if own_run:
        tasks.prepare_database(url)
        run_id = tasks.start_run(url, "ingest")
    archive_dir, quarantine_dir = steps.archive_dirs(inbox, archive, quarantine)
    files: list[dict[str, Any]] = []
    try:
        for path in tasks.list_inbox(str(Path(inbox))):
            outcome = tasks.take_file(url, path, str(archive_dir), str(quarantine_dir), run_id)
            files.append(outcome)
            # File names and counts only: no values from the file reach the log.
            if outcome["status"] == "quarantined":
                logger.warning("quarantined %s: %s", outcome["file"], outcome["reason"])
            else:
                logger.info("%s %s (%s): rows %d, new %d, changed %d, rejects %d", outcome["status"], outcome["file"],
                            outcome["kind"], outcome["rows"], outcome["new"], outcome["changed"], outcome["rejects"])
    except BaseException as exc:
        if own_run:
            tasks.finish_run(url, run_id, "failed", {"files": files}, type(exc).__name__)
        raise
    summary = {
        "files": files,
        "taken": sum(f["status"] == "taken" for f in files),
        "seen": sum(f["status"] == "seen" for f in files),
        "quarantined": sum(f["status"] == "quarantined" for f in files),
        "rows": sum(f["rows"] for f in files),
        "new": sum(f["new"] for f in files),
        "changed": sum(f["changed"] for f in files),
        "rejects": sum(f["rejects"] for f in files),
    }
    if own_run:
        tasks.finish_run(url, run_id, "completed", summary)
    return summary
