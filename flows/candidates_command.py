"""``xunqin candidates --db URL --out FILE.csv [--top-k N]``: the open candidates the database holds.

Same columns as ``xunqin match`` (../shared/exchange-format.md, "Candidates held by the
workstation"), best first within each station record; ruled-out pairs and closed records are
not in it, so a night's state can be scored like a batch match. Ids and evidence only.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

MAIN = ["station_record_id", "report_id", "rank", "score", "probability", "duplicate_report_ids"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from xunqin.store.url import DEFAULT_URL, URL_ENV

    parser.add_argument("--db", default=None, help=f"database URL (default ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--out", required=True, help="candidates CSV to write")
    parser.add_argument("--top-k", type=int, default=None, help="at most N per station record (default: all held)")


def held_candidates(url: str, top_k: int | None = None) -> pd.DataFrame:
    """The open candidates as match rows: main columns, then the stored evidence columns."""
    import sqlalchemy as sa

    from xunqin.store import db, decisions
    from xunqin.store.models import Candidate

    with db.sessions(url)() as s:
        rows = s.execute(sa.select(Candidate.station_record_id, Candidate.report_id, Candidate.rank, Candidate.score,
                                   Candidate.probability, Candidate.evidence)
                         .order_by(Candidate.station_record_id, Candidate.rank)).all()
        closed_s, closed_r = decisions.closed_ids(s)
        excluded = decisions.excluded_pairs(s)
    frame = pd.DataFrame(rows, columns=["station_record_id", "report_id", "rank", "score", "probability", "evidence"])
    pair = pd.MultiIndex.from_frame(frame[["station_record_id", "report_id"]])
    keep = ~frame["station_record_id"].isin(closed_s) & ~frame["report_id"].isin(closed_r)
    keep &= ~pair.isin(pd.MultiIndex.from_frame(excluded[["station_record_id", "report_id"]]))
    frame = frame.loc[keep].reset_index(drop=True)
    # ranks closed up after the rows left, best first within each station record
    frame = frame.sort_values(["station_record_id", "score", "report_id"], ascending=[True, False, True], kind="stable")
    frame["rank"] = frame.groupby("station_record_id").cumcount() + 1
    if top_k:
        frame = frame.loc[frame["rank"] <= top_k]
    evidence = pd.DataFrame([e if isinstance(e, dict) else json.loads(e or "{}") for e in frame["evidence"]],
                            index=frame.index)
    if "duplicate_report_ids" not in evidence:
        evidence["duplicate_report_ids"] = ""
    out = pd.concat([frame.drop(columns=["evidence"]), evidence], axis=1)
    rest = [c for c in out.columns if c not in MAIN]
    return out[MAIN + rest].reset_index(drop=True)


def run(args: argparse.Namespace) -> int:
    from xunqin.flows import outputs
    from xunqin.store import db

    url = db.database_url(args.db)
    if args.top_k is not None and args.top_k < 1:
        print("xunqin: candidates: --top-k must be at least 1", file=sys.stderr)
        return 2
    db.upgrade(url)
    frame = held_candidates(url, args.top_k)
    with outputs.staged(args.out) as temp:
        frame.to_csv(temp, index=False, encoding="utf-8")
    print(f"wrote {len(frame):,} candidate rows for {frame['station_record_id'].nunique():,} station records to {args.out}",
          file=sys.stderr)
    return 0
