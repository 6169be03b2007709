"""``xunqin match``: ingest both files, rank candidates, write the contract CSV.

Contract (../shared/exchange-format.md): one row per candidate pair, best first within each
station record, at most --top-k per record; columns station_record_id, report_id, rank, score,
then the per-field evidence. Exits non-zero with one line when an input file is refused, or
when an output cannot be written (then no partial output is left: see flows/outputs.py).

``--settings`` and ``--model``: a model is trained for its settings (its m and u are per level
of its comparisons). So with a model file that exists, ``--settings`` is accepted only when it
equals the model's settings, and refused otherwise (:class:`SettingsConflict`); when the model
file does not exist yet, the model is trained with ``--settings`` and saved there. ``--top-k``
overrides the settings' ``top_k`` (the model's, with a model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xunqin.flows import outputs
from xunqin.flows.progress import console_progress
from xunqin.ingest import FileRefused, ingest_files, write_rejects_csv
from xunqin.matching.model import Model
from xunqin.matching.pipeline import match
from xunqin.matching.settings import Settings, SettingsError


class SettingsConflict(SettingsError):
    """``--settings`` differs from the settings the ``--model`` file was trained with."""


def load_model(path: Path) -> Model:
    """The model in ``path``; its settings' problems name the file and ``settings.…`` keys."""
    try:
        return Model.load(path)
    except SettingsError as exc:
        raise exc.located(path, "settings") from None
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, another format, a level without m or u
        why = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        if not why.startswith("not a xunqin model"):
            why = f"not a xunqin model file ({why})"
        raise FileRefused(str(path), None, why) from None


def check_settings_fit(model: Model, model_path: Path, settings: Settings, settings_path: Path) -> None:
    """Refuse settings that are not the model's: the model would score with its own, silently."""
    differences = model.settings.differences(settings)
    if not differences:
        return
    shown = "; ".join(f"{path}: {mine} in the model, {theirs} here" for path, mine, theirs in differences[:3])
    more = f"; and {len(differences) - 3} more" if len(differences) > 3 else ""
    raise SettingsConflict([("", (
        f"not the settings {model_path} was trained with ({shown}{more}); a model scores with the settings "
        "it was trained for: leave out --settings to use the model as it is, or give --model a new file to "
        "train one with these settings"
    ))], str(settings_path))


def run(args: argparse.Namespace) -> int:
    from xunqin.flows import dask_options

    model_path = Path(args.model) if args.model else None
    # settings and model first: a refusal must not wait for the files to be read
    settings = Settings.load(args.settings) if args.settings else None  # SettingsError: cli
    model = load_model(model_path) if model_path and model_path.exists() else None
    if model is not None and settings is not None:
        check_settings_fit(model, model_path, settings, Path(args.settings))
    scheduler = dask_options.address(getattr(args, "dask", None))
    workers = getattr(args, "workers", None)
    if not scheduler and not workers:
        # read before the progress bar starts: its refresh thread would keep the ingest from
        # forking its second process (at M the ingest took 64 s beside other threads, 45 s without)
        tables = {"result": _read(args)}
        with console_progress() as say:
            return _run(args, say, lambda: tables.pop("result"), lambda pair, **options: match(*pair, **options),
                        settings, model, model_path)
    try:
        size = dask_options.shard_size(getattr(args, "shard_size", None))
    except ValueError as exc:
        print(f"xunqin: {exc}", file=sys.stderr)
        return 2
    from xunqin.flows import dask_runner
    from xunqin.flows.prefect_env import local_server

    # the files are read before the Prefect API and the cluster start: in a process without
    # other threads the ingest normalizes on two cores (at M 45 s, not 64 s beside them)
    read = {"result": _read(args)}
    with local_server(), dask_runner.engine(workers, scheduler) as address, console_progress() as say:
        def on_dask(tables, **options):
            return dask_runner.match_on_dask(tables, workers=workers, scheduler=address, size=size,
                                             directory=getattr(args, "shard_dir", None), **options)

        # popped: once the shards are written this process holds no table (see _run)
        return _run(args, say, lambda: read.pop("result"), on_dask, settings, model, model_path)


def _read(args: argparse.Namespace):
    return ingest_files(stations=Path(args.stations), reports=Path(args.reports))  # FileRefused: cli


def _run(args: argparse.Namespace, say, read, matcher, settings, model, model_path) -> int:
    """``matcher([stations, reports], **options)``: in this process, or in report shards on Dask
    with ``--workers``/``--dask`` (or ``$XUNQIN_DASK_ADDRESS``): the same candidates."""
    out = Path(args.out)
    if model is not None:
        say(f"model {model_path}" + (": the settings given are the model's" if settings is not None else ""))
    result = read()
    for counts in result.counts.values():
        say(counts.summary())
    rejects_path = out.with_name(out.stem + ".rejects.csv")
    if len(result.rejects):
        with outputs.staged(rejects_path) as temp:
            write_rejects_csv(result.rejects, temp)
        say(f"{len(result.rejects):,} rejected values listed in {rejects_path}")

    # handed over in a list the sharded matcher empties: once the shards are written, this
    # process holds no table (at 2 million reports, gigabytes the workers need)
    tables = [result.stations, result.reports]
    del result
    outcome = matcher(tables, settings=settings, model=model, top_k=args.top_k, progress=say)
    if model_path and model is None:
        with outputs.staged(model_path) as temp:
            outcome.model.save(temp)
        say(f"model saved to {model_path}")
    with outputs.staged(out) as temp:
        outcome.candidates.to_csv(temp, index=False, encoding="utf-8")
    say(f"wrote {len(outcome.candidates):,} candidate rows to {out}")
    return 0
