"""Flow ``nightly``: ingest then match, with a run summary published as a Prefect artifact.

Scheduled at 02:00 Asia/Shanghai by ``serve()`` (``xunqin serve``) or by the deployment in
``prefect.yaml``. Runs in Prefect's local mode when no Prefect server is configured.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from xunqin.flows import prefect_env, tasks
from xunqin.flows.ingest_flow import ingest
from xunqin.flows.match_flow import match
from xunqin.store import locks

NightLocked = locks.LockHeld

CRON = "0 2 * * *"
TIMEZONE = "Asia/Shanghai"
DEPLOYMENT = "xunqin-nightly"
ARTIFACT_KEY = "xunqin-nightly-summary"


@flow(name="xunqin-nightly", persist_result=False)
def nightly(inbox: str, db_url: str | None = None, archive: str | None = None, quarantine: str | None = None,
            top_k: int | None = None, cache_dir: str | None = None, rematch_all: bool = False,
            dask: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """One night: take the inbox into the database, match what is new, publish the summary.

    ``rematch_all``: match every open record, not only the new ones (refreshes every stored
    score; a full night's time, so now and then, e.g. once a month). The match step runs on the
    Dask cluster at ``dask`` (or ``$XUNQIN_DASK_ADDRESS``, read when the night runs), or on a
    local cluster of ``workers`` processes; else in this process."""
    logger = get_run_logger()
    url = prefect_env.database_url(db_url)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    tasks.prepare_database(url)
    with locks.held(url, locks.NIGHT) as lock:  # a second night at once stops here, naming the holder
        recovered = _recovered(lock, tasks.recover_runs(url, "nightly"))
        if recovered:
            logger.warning("recovering after an interrupted night: %s", recovered)
        run_id = tasks.start_run(url, "nightly")
        seconds["prepare"] = round(time.perf_counter() - clock, 2)
        summary: dict[str, Any] = {"run_id": run_id, "recovered": recovered}
        try:
            clock = time.perf_counter()
            # Sub-flows get the URL as given (None: from the environment): flow parameters are
            # stored by Prefect, and a URL from the environment may hold a password.
            summary["ingest"] = ingest(inbox, db_url=db_url, archive=archive, quarantine=quarantine, run_id=run_id)
            seconds["ingest"] = round(time.perf_counter() - clock, 2)
            clock = time.perf_counter()
            summary["retrained"] = tasks.retrain_if_due(url, run_id, cache_dir)
            if rematch_all:
                summary["put_back"] = tasks.put_back_all(url, run_id)
            summary["match"] = _match_flow(dask, workers)(db_url=db_url, top_k=top_k, run_id=run_id,
                                                           cache_dir=cache_dir)
            seconds["match"] = round(time.perf_counter() - clock, 2)
        except BaseException as exc:
            try:
                tasks.finish_run(url, run_id, "failed", summary, str(exc) if isinstance(exc, tasks.StepFailed) else type(exc).__name__)
            except tasks.StepFailed:
                pass  # the database cannot take it now (full, gone): the next night marks this run interrupted
            raise
        summary["seconds"] = seconds
        tasks.finish_run(url, run_id, "completed", summary)
    create_markdown_artifact(markdown=summary_markdown(summary), key=ARTIFACT_KEY,
                             description="xunqin nightly run: files, rows, rejects, candidates, time per step")
    logger.info("nightly run %d done in %.1f s", run_id, sum(seconds.values()))
    return summary


def _match_flow(dask: str | None, workers: int | None) -> Any:
    """The match sub-flow, on the Dask task runner when the night is configured for one."""
    from xunqin.flows import dask_options

    scheduler = dask_options.address(dask)
    if not scheduler and not workers:
        return match
    from xunqin.flows import dask_runner

    return match.with_options(task_runner=dask_runner.task_runner(workers, scheduler))


def _recovered(lock: locks.Acquired, interrupted: list[int]) -> dict[str, Any] | None:
    """What this night found left by a killed one: the runs it marks interrupted and the stale
    lock it took over. The killed night's writes were whole transactions (a file, the night's
    candidates with their "matched" marks), so this night redoes exactly what was not committed."""
    if not interrupted and lock.stale_holder is None:
        return None
    out: dict[str, Any] = {"interrupted_runs": interrupted}
    if lock.stale_holder is not None:
        out["stale_lock"] = {"holder": lock.stale_holder,
                             "since": lock.stale_since.isoformat(timespec="seconds") if lock.stale_since else None}
    return out


def summary_markdown(summary: dict[str, Any]) -> str:
    """The run summary as Markdown (counts and file names only)."""
    ing, mat, sec = summary["ingest"], summary["match"], summary["seconds"]
    lines = [
        f"# xunqin nightly run {summary['run_id']}",
        "",
        *([f"Recovered after an interrupted night: runs {summary['recovered']['interrupted_runs']} marked interrupted"
           f"{', stale lock taken over' if 'stale_lock' in summary['recovered'] else ''}; what they had not committed is redone tonight.", ""]
          if summary.get("recovered") else []),
        "| step | figure |",
        "|---|---|",
        f"| files taken | {ing['taken']} |",
        f"| files seen before | {ing['seen']} |",
        f"| files quarantined | {ing['quarantined']} |",
        f"| rows read | {ing['rows']} |",
        f"| records new / changed | {ing['new']} / {ing['changed']} |",
        f"| rejected values | {ing['rejects']} |",
        f"| station records / reports matched | {mat['pending_stations']} / {mat['pending_reports']}"
        f"{' (all: re-match asked)' if summary.get('put_back') else ''} |",
        f"| new candidates | {mat['candidates_new']} |",
        f"| strong new candidates | {mat['strong_new']} |",
        f"| candidates updated / removed | {mat['candidates_updated']} / {mat['candidates_removed']} |",
        f"| model | {mat['model'] or '-'}{' (trained tonight)' if mat['model_trained'] else ''} |",
        *([f"| retrained from {summary['retrained']['new_labels']} new labels | version {summary['retrained']['number']}: "
           f"{'activated' if summary['retrained']['activated'] else 'kept inactive'} ({summary['retrained']['why']}) |"]
          if summary.get("retrained") else []),
    ]
    lines += [f"| seconds: {step} | {value} |" for step, value in sec.items()]
    lines += [f"| seconds: match/{step} | {value} |" for step, value in mat.get("timings", {}).items()]
    if ing["files"]:
        lines += ["", "| file | kind | status | rows | new | changed | rejects | reason |", "|---|---|---|---|---|---|---|---|"]
        for f in ing["files"]:
            reason = (f["reason"] or "").replace("|", "/")
            lines.append(f"| {f['file']} | {f['kind'] or '-'} | {f['status']} | {f['rows']} | {f['new']} | "
                         f"{f['changed']} | {f['rejects']} | {reason} |")
    return "\n".join(lines) + "\n"


def next_run(now: dt.datetime, cron: str = CRON, timezone: str = TIMEZONE) -> dt.datetime:
    """The next time a daily cron ("M H * * *") fires after ``now``, in ``timezone``."""
    from zoneinfo import ZoneInfo

    fields = cron.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
        raise ValueError("only daily cron expressions (M H * * *) are supported here")
    minute, hour = int(fields[0]), int(fields[1])
    local = now.astimezone(ZoneInfo(timezone))
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return target if target > local else target + dt.timedelta(days=1)


def _prefect_server_configured() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def serve(inbox: str, db_url: str | None = None, archive: str | None = None, quarantine: str | None = None,
          cache_dir: str | None = None, *, max_runs: int | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run ``nightly`` at 02:00 Asia/Shanghai until stopped (Ctrl-C).

    With a Prefect server (PREFECT_API_URL set) this serves the deployment and the server's
    scheduler starts the runs. Prefect's local mode has no scheduler ("cannot schedule flows on
    an ephemeral server"), so there this process waits for 02:00 itself and runs the flow.
    """
    params: dict[str, Any] = {"inbox": inbox, "db_url": db_url, "archive": archive, "quarantine": quarantine,
                              "cache_dir": cache_dir}
    params = {k: v for k, v in params.items() if v is not None}
    if _prefect_server_configured():
        from prefect.schedules import Cron

        nightly.serve(name=DEPLOYMENT, schedule=Cron(CRON, timezone=TIMEZONE), parameters=params)
        return
    runs = 0
    while max_runs is None or runs < max_runs:
        due = next_run(dt.datetime.now(dt.timezone.utc))
        print(f"xunqin: next nightly run at {due.isoformat()} ({TIMEZONE})", file=sys.stderr, flush=True)
        while (left := (due - dt.datetime.now(dt.timezone.utc)).total_seconds()) > 0:
            sleep(min(left, 300.0))  # short naps: a suspended laptop or a clock change is caught up
        try:
            nightly(**params)
        except Exception as exc:  # one failed night must not stop the schedule; the run row says why
            print(f"xunqin: nightly run failed ({type(exc).__name__})", file=sys.stderr, flush=True)
        runs += 1
