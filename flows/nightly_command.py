"""``xunqin nightly`` (one night by hand) and ``xunqin serve`` (the 02:00 schedule).

flows/cli.py wires them: ``add_arguments(parser)`` then ``run(args)`` for ``nightly``;
``add_serve_arguments(parser)`` then ``run_serve(args)`` for ``serve``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from xunqin.store.url import DEFAULT_URL, URL_ENV

INBOX_ENV = "XUNQIN_INBOX"
CACHE_HELP = ("folder for the prepared-records snapshot kept between nights "
              "(default: beside a SQLite file, else ~/.cache/xunqin)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inbox", default=None, help=f"folder new exchange files are dropped in (default ${INBOX_ENV})")
    parser.add_argument("--db", default=None, help=f"database URL (default ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--archive", default=None, help="where taken files go (default INBOX/archive)")
    parser.add_argument("--quarantine", default=None, help="where refused files go (default INBOX/quarantine)")
    parser.add_argument("--top-k", type=int, default=None, help="candidates kept per station record")
    parser.add_argument("--cache", default=None, metavar="DIR", help=CACHE_HELP)
    parser.add_argument("--workers", type=int, default=None,
                        help="run the match step on a local Dask cluster of N worker processes")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run the match step on the Dask cluster at ADDRESS (default $XUNQIN_DASK_ADDRESS when set)")
    parser.add_argument("--rematch-all", action="store_true",
                        help="match every open record again, not only new ones: refreshes every stored "
                             "score (name frequencies drift as reports come in); a full night's time")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inbox", default=None, help=f"folder new exchange files are dropped in (default ${INBOX_ENV})")
    parser.add_argument("--db", default=None, help=f"database URL (default ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--archive", default=None)
    parser.add_argument("--quarantine", default=None)
    parser.add_argument("--cache", default=None, metavar="DIR", help=CACHE_HELP)


def _inbox(args: argparse.Namespace) -> str | None:
    inbox = args.inbox or os.environ.get(INBOX_ENV)
    if not inbox:
        print(f"xunqin: give --inbox DIR (or set {INBOX_ENV})", file=sys.stderr)
    elif not os.path.isdir(inbox):
        print(f"xunqin: inbox folder not found: {inbox}", file=sys.stderr)
        return None
    return inbox


def _url_param(url: str | None) -> str | None:
    """The URL as a flow parameter, unless it holds a password: Prefect stores flow parameters,
    so such a URL goes to this process's environment ($XUNQIN_DB_URL) instead."""
    if not url:
        return None
    from sqlalchemy.engine import make_url

    if make_url(url).password is None:
        return url
    os.environ[URL_ENV] = url
    return None


def failure_message(url: str, exc: BaseException) -> str:
    """One line for a failed night: where (the database file, or the server without its
    password) and what, in Chinese first when it is the disk (no record values: the error
    reaching here was scrubbed by the task, see :mod:`xunqin.flows.tasks`)."""
    from xunqin.store import db

    text = str(exc)
    if any(mark in text for mark in ("disk is full", "No space left", "[53100]", "Errno 28")):
        text = f"磁盘空间不足 ({text})"
    return f"xunqin: {db.describe_target(url)}: {text}"


def run(args: argparse.Namespace) -> int:
    """Run one night now; prints the summary counts as JSON on stdout."""
    from xunqin.flows.prefect_env import local_server
    from xunqin.store import db

    inbox = _inbox(args)
    if not inbox:
        return 2
    url_param = _url_param(args.db)
    with local_server():
        from xunqin.flows.nightly import NightLocked, nightly
        from xunqin.flows.tasks import StepFailed

        try:
            summary = nightly(inbox=inbox, db_url=url_param, archive=args.archive, quarantine=args.quarantine,
                              top_k=args.top_k, cache_dir=args.cache, rematch_all=args.rematch_all,
                              dask=args.dask, workers=args.workers)
        except NightLocked as exc:
            print(f"xunqin: {exc}", file=sys.stderr)
            return 3
        except StepFailed as exc:
            print(failure_message(db.database_url(args.db), exc), file=sys.stderr)
            return 1
    print(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the nightly deployment (02:00 Asia/Shanghai) until interrupted."""
    from xunqin.flows.nightly import serve

    from xunqin.flows.prefect_env import local_server

    inbox = _inbox(args)
    if not inbox:
        return 2
    with local_server():
            serve(inbox=inbox, db_url=_url_param(args.db), archive=args.archive, quarantine=args.quarantine,
              cache_dir=args.cache)
    return 0
