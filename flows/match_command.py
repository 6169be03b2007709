"""``xunqin match``: ingest both files, rank candidates, write the contract CSV.

Contract (../shared/exchange-format.md): one row per candidate pair, best first within each
station record, at most --top-k per record; columns station_record_id, report_id, rank, score,
then the per-field evidence. Exits non-zero with one line when an input file is refused, or
when an output cannot be written (then no partial output is left: see flows/outputs.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from xunqin.flows import outputs
from xunqin.ingest import ingest_files, write_rejects_csv
from xunqin.matching.model import Model
from xunqin.matching.pipeline import match
from xunqin.matching.settings import Settings


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from xunqin.flows import dask_runner

    scheduler = dask_runner.address(getattr(args, "dask", None))
    workers = getattr(args, "workers", None)
    if not scheduler and not workers:
        return _run(args, _read(args), match)
    try:
        size = dask_runner.shard_size(getattr(args, "shard_size", None))
    except ValueError as exc:
        print(f"xunqin: {exc}", file=sys.stderr)
        return 2
    from concurrent.futures import ThreadPoolExecutor

    from xunqin.flows.prefect_env import local_server

    # the Prefect API and the cluster start while the files are read
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read, args)
        with local_server(), dask_runner.engine(workers, scheduler) as address:
            def on_dask(stations, reports, **options):
                return dask_runner.match_on_dask(stations, reports, workers=workers, scheduler=address,
                                                 size=size,
                                                 directory=getattr(args, "shard_dir", None), **options)

            return _run(args, reading.result(), on_dask)


def _read(args: argparse.Namespace):
    return ingest_files(stations=Path(args.stations), reports=Path(args.reports))  # FileRefused: cli


def _run(args: argparse.Namespace, result, matcher) -> int:
    """``matcher``: in this process, or in report shards on Dask with ``--workers``/``--dask``
    (or ``$XUNQIN_DASK_ADDRESS``): the same candidates."""
    out = Path(args.out)
    for counts in result.counts.values():
        _say(counts.summary())
    rejects_path = out.with_name(out.stem + ".rejects.csv")
    if len(result.rejects):
        with outputs.staged(rejects_path) as temp:
            write_rejects_csv(result.rejects, temp)
        _say(f"{len(result.rejects):,} rejected values listed in {rejects_path}")

    model_path = Path(args.model) if args.model else None
    model = Model.load(model_path) if model_path and model_path.exists() else None
    settings = Settings.load(args.settings) if args.settings else None
    outcome = matcher(result.stations, result.reports, settings=settings, model=model, top_k=args.top_k,
                      progress=_say)
    if model_path and model is None:
        with outputs.staged(model_path) as temp:
            outcome.model.save(temp)
        _say(f"model saved to {model_path}")
    with outputs.staged(out) as temp:
        outcome.candidates.to_csv(temp, index=False, encoding="utf-8")
    _say(f"wrote {len(outcome.candidates):,} candidate rows to {out}")
    return 0
