"""The ``xunqin`` command: ``ingest`` exchange files, ``match`` stations against reports.

The console never shows personal data: only counts, file names and column names. The values
behind rejected cells are in rejects.csv, which the station needs to fix its records.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib import metadata
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _version() -> str:
    try:
        return metadata.version("xunqin")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands ingest, match, nightly, serve, web, user, station, search-index)."""
    parser = argparse.ArgumentParser(prog="xunqin", description="寻亲: match rescue-station records against missing-person reports")
    parser.add_argument("--version", action="version", version=f"xunqin {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="read, check and normalize exchange files")
    ing.add_argument("--stations", type=Path, help="station records (CSV or XLSX)")
    ing.add_argument("--reports", type=Path, help="missing-person reports (CSV or XLSX)")
    ing.add_argument("--out", type=Path, required=True, help="output directory")
    ing.set_defaults(handler=_ingest)

    match = sub.add_parser("match", help="rank candidate reports for each station record")
    match.add_argument("--stations", type=Path, required=True, help="station records (CSV or XLSX)")
    match.add_argument("--reports", type=Path, required=True, help="missing-person reports (CSV or XLSX)")
    match.add_argument("--out", type=Path, required=True, help="candidates CSV to write")
    match.add_argument("--top-k", type=_positive_int, default=None,
                       help="candidates per station record (default: the settings' top_k, 10 in the defaults)")
    match.add_argument("--model", type=Path, help="model JSON: used if it exists, else trained and saved there")
    match.add_argument("--settings", type=Path,
                       help="matcher settings (YAML or JSON) instead of the defaults; with a --model file that "
                            "exists, accepted only when they equal the model's settings (a model is trained for "
                            "its settings), else refused; with a new --model file, the model is trained with them")
    match.add_argument("--workers", type=_positive_int, help="match the reports in shards on a local Dask cluster "
                       "of N worker processes (same answers; memory per worker bounded by the shard size)")
    match.add_argument("--dask", metavar="ADDRESS", help="match in shards on the Dask cluster at ADDRESS "
                       "(tcp://scheduler:8786; default $XUNQIN_DASK_ADDRESS when set)")
    match.add_argument("--shard-size", type=_positive_int, help="reports per shard with --workers/--dask "
                       "(default $XUNQIN_SHARD_SIZE, else 250000)")
    match.add_argument("--shard-dir", type=Path, help="folder for the shards' Parquet files, one every worker "
                       "reads (default $XUNQIN_SHARD_DIR, else a private temporary folder)")
    match.set_defaults(handler=_match)

    # The batch and the web app: their modules load only when their command runs.
    from xunqin.flows import nightly_command
    from xunqin.web import command as web_command

    nightly = sub.add_parser("nightly", help="run one night by hand: ingest the inbox, match what is new")
    nightly_command.add_arguments(nightly)
    nightly.set_defaults(handler=nightly_command.run)
    serve = sub.add_parser("serve", help="run the nightly batch every day at 02:00 Asia/Shanghai")
    nightly_command.add_serve_arguments(serve)
    serve.set_defaults(handler=nightly_command.run_serve)
    web = sub.add_parser("web", help="serve the review workstation (browser)")
    web_command.add_arguments(web)
    web.set_defaults(handler=web_command.run)
    from xunqin.flows import candidates_command, model_command, police

    held = sub.add_parser("candidates", help="write the open candidates the database holds (same columns as match)")
    candidates_command.add_arguments(held)
    held.set_defaults(handler=candidates_command.run)
    police_import = sub.add_parser("police-import", help="take a police verification results file (公安核查结果)")
    police.add_arguments(police_import)
    police_import.set_defaults(handler=police.run)
    model = sub.add_parser("model", help="model versions: train from labels, list, activate")
    model_command.add_arguments(model)
    model.set_defaults(handler=model_command.run)
    user = sub.add_parser("user", help="manage review workstation accounts")
    web_command.add_user_arguments(user)
    user.set_defaults(handler=web_command.run_user)
    station = sub.add_parser("station", help="manage the list of rescue stations")
    web_command.add_station_arguments(station)
    station.set_defaults(handler=web_command.run_station)
    index = sub.add_parser("search-index", help="bring the workstation's search index up to date")
    web_command.add_search_index_arguments(index)
    index.set_defaults(handler=web_command.run_search_index)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    from xunqin.ingest import ingest_files, write_result

    result = ingest_files(args.stations, args.reports)
    for c in result.counts.values():
        print(c.summary())
        if c.ignored_columns:
            print(f"  ignored columns: {', '.join(c.ignored_columns)}")
        for note in c.notes:
            print(f"  note: {note}")
    written = write_result(result, args.out)
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


def _match(args: argparse.Namespace) -> int:
    from xunqin.flows import match_command  # imported when used: it loads the matcher

    return int(match_command.run(args) or 0)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return _main(argv)[0]


def _main(argv: list[str] | None) -> tuple[int, str | None]:
    """(exit status, the command run)."""
    from xunqin.flows.prefect_env import private_settings

    private_settings()  # before anything imports Prefect: no telemetry, no persisted results
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and usage errors
        return (exc.code if isinstance(exc.code, int) else 2), None
    if args.command == "ingest" and args.stations is None and args.reports is None:
        print("xunqin: ingest: give --stations FILE, --reports FILE, or both", file=sys.stderr)
        return 2, args.command
    return _handled(args), args.command


def _handled(args: argparse.Namespace) -> int:
    from xunqin.flows.outputs import OutputError
    from xunqin.ingest import FileRefused
    from xunqin.matching.settings import SettingsError

    try:
        return args.handler(args)
    except SettingsError as exc:  # each problem on a line: file, key path, what is wrong
        for line in str(exc).splitlines():
            print(f"xunqin: {line}", file=sys.stderr)
        return 2
    except FileRefused as exc:
        print(f"xunqin: {exc.file}: {exc.column or '-'}: {exc.why}", file=sys.stderr)
        return 1
    except OutputError as exc:  # names the output file; nothing partial was left there
        print(f"xunqin: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. output directory not writable; the path is ours, not personal data
        where = exc.filename if exc.filename is not None else "-"
        print(f"xunqin: {where}: -: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 1


# Commands that hold whole tables: once their files are written, the process ends without
# freeing its objects one by one (the interpreter's last collection and the parsers' caches:
# 1.4 s of a 14 s `xunqin match` at S, 2.3 s at M).
QUICK_EXIT_COMMANDS = frozenset({"match", "ingest"})


def run() -> None:
    """The ``xunqin`` console script: :func:`main`, then the exit."""
    status, command = _main(None)
    # a run on Dask keeps Prefect's own exit hooks (its last events and logs)
    if command in QUICK_EXIT_COMMANDS and "prefect" not in sys.modules:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said there
                pass
        os._exit(status)
    raise SystemExit(status)


if __name__ == "__main__":
    run()
