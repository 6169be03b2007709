"""Benchmark: an incremental night beside a full re-match, on a workstation database.

    python -m benchmarks.incremental --size S     # 2,000 x 50,000 (+40 / +500 new)
    python -m benchmarks.incremental --size M     # 10,000 x 500,000 (+200 / +5,000 new)
    python -m benchmarks.incremental --size M --changed 500   # and 500 stored reports changed

The database is first loaded with the base data and matched once (that night trains and stores
the model and writes the prepared-records snapshot). Then new exchange files arrive: the
incremental night takes them and matches only what is new; the full re-match then matches every
open record again with the same stored model. Both run in this one process, after the base
load (modules imported, normalizer caches warm: as in a long-running ``xunqin serve``). The
night's steps are called directly (the Prefect wrapping adds a constant few seconds). With
``--work DIR`` the loaded base is kept in ``DIR/base-ready`` and reused by the next run.

``--changed N``: the night's reports file also carries N reports already stored, with another
contact phone: new versions of them, whose prepared rows are dropped and prepared again, as a
real night's changed reports are.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

SIZES = {"S": (2_000, 50_000, 40, 500), "M": (10_000, 500_000, 200, 5_000)}
SEED = 20261129


def _take(url: str, paths: list[Path], work: Path) -> dict[str, int]:
    from xunqin.flows import steps

    totals = {"rows": 0, "new": 0, "changed": 0, "rejects": 0}
    for path in paths:
        out = steps.take_file(url, str(path), str(work / "archive"), str(work / "quarantine"), None)
        if out["status"] != "taken":
            raise RuntimeError(f"{path.name}: {out['status']} {out['reason']}")
        for k in totals:
            totals[k] += int(out[k])
    return totals


def _warm_up(work: Path) -> None:
    """Imports and reference tables (pinyin dictionaries, divisions, OpenCC) loaded before any
    timing, as in a long-running ``xunqin serve``: normalize a tiny unrelated table."""
    from xunqin.data.generate import generate, write
    from xunqin.flows import steps
    import xunqin.matching.pipeline  # noqa: F401

    paths = write(generate(20, 20, seed=1), work / "warm-up", tables=("stations", "reports"))
    for path in paths.values():
        kind, raw = steps.sniff_kind(path)
        steps._normalize(kind, raw)


def _queue(url: str):  # type: ignore[no-untyped-def]
    from xunqin.store import db, candidates

    with db.sessions(url)() as s:
        return candidates.review_queue(s)


def run(size: str, db_url: str | None, work: Path, changed: int = 0) -> dict[str, object]:
    from xunqin.data.generate import Generated, generate, write
    from xunqin.flows import steps
    from xunqin.flows.prepared import night_tables
    from xunqin.store import db

    n_s, n_r, new_s, new_r = SIZES[size]
    url = db_url or f"sqlite:///{work / 'bench.db'}"
    figures: dict[str, object] = {"size": size, "stations": n_s, "reports": n_r, "new_stations": new_s,
                                  "new_reports": new_r, "db": url.split(":", 1)[0]}
    t = time.perf_counter()
    gen = generate(n_s + new_s, n_r + new_r, seed=SEED)
    base = Generated(gen.stations.iloc[:n_s], gen.reports.iloc[:n_r], gen.truth)
    new = Generated(gen.stations.iloc[n_s:], gen.reports.iloc[n_r:], gen.truth)
    if changed:
        again = base.reports.sample(changed, random_state=SEED).assign(contact_phone="13800138000")
        new = Generated(new.stations, pd.concat([new.reports, again], ignore_index=True), gen.truth)
    figures["changed_reports"] = changed
    base_paths = write(base, work / "base", tables=("stations", "reports"))
    new_paths = write(new, work / "new", tables=("stations", "reports"))
    figures["generate_s"] = round(time.perf_counter() - t, 1)
    del gen, base, new  # the nights work from the files; a nightly process does not hold these
    gc.collect()
    _warm_up(work)

    saved = work / "base-ready"  # the loaded and matched base, kept for the next run (SQLite only)
    for item in work.glob("bench.db*"):  # what an earlier run left
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    if db_url is None and (saved / "done.json").exists():
        for item in saved.iterdir():
            if item.name != "done.json":
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, work / item.name)
        figures.update(json.loads((saved / "done.json").read_text()))
        figures["base_reused"] = True
    else:
        db.upgrade(url)
        t = time.perf_counter()
        _take(url, [base_paths["stations"], base_paths["reports"]], work)
        figures["load_base_ingest_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        first = steps.match_pending(url, run_id=1)
        db.checkpoint(url)
        figures["load_base_match_s"] = round(time.perf_counter() - t, 1)
        figures["base_candidates"] = first["candidates_new"]
        if db_url is None:
            db.dispose(url)
            saved.mkdir(exist_ok=True)
            for item in work.iterdir():
                if item.name.startswith("bench.db"):
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, saved / item.name)
            (saved / "done.json").write_text(json.dumps({k: figures[k] for k in (
                "load_base_ingest_s", "load_base_match_s", "base_candidates")}))

    # The snapshot the night before left, as this code writes it: a base kept by other code
    # holds a snapshot that this code refuses, and the timed night would prepare everything.
    t = time.perf_counter()
    figures["base_snapshot"] = night_tables(url).source  # reused, or built and written now
    figures["base_snapshot_s"] = round(time.perf_counter() - t, 1)
    os.sync()  # the base just copied (1.2 GB at M) is flushed now, not under the timed night
    t = time.perf_counter()
    taken = _take(url, [new_paths["stations"], new_paths["reports"]], work)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    night = steps.match_pending(url, run_id=2)
    db.checkpoint(url)  # the night ends with its pages in the database file (as finish-run waits)
    incremental_s = time.perf_counter() - t
    figures.update(incremental_ingest_s=round(ingest_s, 1), incremental_match_s=round(incremental_s, 1),
                   incremental_night_s=round(ingest_s + incremental_s, 1), incremental_rows=taken["rows"],
                   incremental_changed_rows=taken["changed"],
                   incremental_match_steps=night["timings"], incremental_candidates_new=night["candidates_new"])

    incremental_queue = _queue(url)
    # Full re-match: every current record pending again, same stored model.
    with db.engine(url).begin() as conn:
        for table in ("station_records", "reports"):
            conn.execute(sa.text(f"UPDATE {table} SET matched_run_id = NULL WHERE is_current"))
    os.sync()
    t = time.perf_counter()
    full = steps.match_pending(url, run_id=3)
    db.checkpoint(url)
    full_s = time.perf_counter() - t
    figures.update(full_rematch_s=round(full_s, 1), full_match_steps=full["timings"],
                   full_candidates_changed=full["candidates_new"] + full["candidates_updated"] + full["candidates_removed"])
    full_queue = _queue(url)
    both = incremental_queue.merge(full_queue, on=["station_record_id", "report_id"], how="outer",
                                   suffixes=("_inc", "_full"), indicator=True)
    figures["pairs_in_both"] = int((both["_merge"] == "both").sum())
    figures["pairs_only_incremental"] = int((both["_merge"] == "left_only").sum())
    figures["pairs_only_full"] = int((both["_merge"] == "right_only").sum())
    same = both[both["_merge"] == "both"]
    figures["same_rank_share"] = round(float((same["rank_inc"] == same["rank_full"]).mean()), 4) if len(same) else None
    figures["max_score_diff"] = round(float((same["score_inc"] - same["score_full"]).abs().max()), 4) if len(same) else None
    top1 = lambda q: q[q["rank"] == 1].set_index("station_record_id")["report_id"]  # noqa: E731
    t_inc, t_full = top1(incremental_queue), top1(full_queue)
    figures["top1_agreement"] = round(float((t_inc.reindex(t_full.index) == t_full).mean()), 4) if len(t_full) else None
    figures["incremental_share_of_full"] = round(incremental_s / full_s, 3) if full_s else None
    figures["night_share_of_full"] = round((ingest_s + incremental_s) / full_s, 3) if full_s else None
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.incremental", description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="M")
    ap.add_argument("--db", default=None, help="database URL (default: a SQLite file in the work folder)")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--changed", type=int, default=0, help="stored reports the night's file changes (default 0)")
    args = ap.parse_args(argv)
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        figures = run(args.size, args.db, work, args.changed)
    else:
        with tempfile.TemporaryDirectory(prefix="xunqin-bench-") as tmp:
            figures = run(args.size, args.db, Path(tmp), args.changed)
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    print(f"size {figures['size']}: incremental night {figures['incremental_night_s']} s "
          f"(ingest {figures['incremental_ingest_s']} s + match {figures['incremental_match_s']} s) "
          f"vs full re-match {figures['full_rematch_s']} s: match {figures['incremental_share_of_full']:.1%} of full, "
          f"night {figures['night_share_of_full']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
