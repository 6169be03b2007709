"""Ingest speed: wall and CPU time of reading and normalizing exchange files, and the share of it
the cyclic garbage collector would take if ingest did not pause it.

    python -m benchmarks.ingest --reports FILE [--stations FILE] [--warm FILE] [--gc-share] [--one-process]

``--warm FILE`` ingests another reports file first, so the reference tables are loaded and the
figures are those of a process that already holds them (a night's second file, the web upload).
``--gc-share`` leaves the collector on (ingest normally pauses it) and times its passes.
``--one-process`` normalizes a large reports file without the second process (for the figure
that process saves).
Generate files with ``python -m xunqin.data.generate --stations N --reports N --out DIR``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--stations")
    parser.add_argument("--reports")
    parser.add_argument("--warm", help="a reports file to ingest first (not timed)")
    parser.add_argument("--gc-share", action="store_true", help="collector on; time spent in its passes")
    parser.add_argument("--one-process", action="store_true", help="no second process for the place columns")
    args = parser.parse_args(argv)

    import xunqin.ingest as ingest
    from xunqin.ingest import tables

    if args.one_process or args.gc_share:  # the collector's figure is this process's
        tables.SECOND_PROCESS_ROWS = 2**62
        args.one_process = True
    if args.warm:
        ingest.ingest_one(args.warm, "reports")
    in_gc = {"seconds": 0.0, "passes": 0, "freed": 0, "started": 0.0}
    if args.gc_share:
        ingest.normalize_stations = ingest.normalize_stations.__wrapped__  # type: ignore[attr-defined]
        ingest.normalize_reports = ingest.normalize_reports.__wrapped__  # type: ignore[attr-defined]

        def timed(phase: str, info: dict) -> None:
            if phase == "start":
                in_gc["started"] = time.process_time()
            else:
                in_gc["seconds"] += time.process_time() - in_gc["started"]
                in_gc["passes"] += 1
                in_gc["freed"] += info["collected"]

        gc.callbacks.append(timed)
    wall, cpu = time.perf_counter(), time.process_time()
    result = ingest.ingest_files(args.stations, args.reports)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = sum(c.rows_in for c in result.counts.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "one process" if args.one_process else f"second process from {tables.SECOND_PROCESS_ROWS:,} rows"
    print(f"rows {rows:,}  wall {wall:.2f} s  cpu {cpu:.2f} s (this process)  peak {peak_mb:,.0f} MB  "
          f"rejects {len(result.rejects):,}  {mode}")
    if args.gc_share:
        print(f"collector: {in_gc['seconds']:.2f} s of {cpu:.2f} s cpu ({100 * in_gc['seconds'] / cpu:.0f}%), "
              f"{in_gc['passes']} passes, {in_gc['freed']} objects freed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
