"""The candidate queue: a night's match rows merged into each station record's top K."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import decisions
from .decisions import KEEP_DECIDED
from .frames import chunks, jsonable_frame
from .models import CONFIRMED, EXCLUDED, Candidate, utcnow

# Candidate columns kept as real columns; the rest of a match row goes into ``evidence``.
CANDIDATE_MAIN = ("station_record_id", "report_id", "rank", "score", "probability")


@dataclass(frozen=True)
class CandidateChanges:
    """Rows written to the candidate queue by one apply."""

    inserted: int
    updated: int
    deleted: int
    stations_touched: int
    strong_inserted: int = 0




def _evidence(df: pd.DataFrame) -> list[dict[str, Any]]:
    extra = [c for c in df.columns if c not in CANDIDATE_MAIN]
    return jsonable_frame(df[extra]) if extra else [{} for _ in range(len(df))]


def _existing_candidates(session: Session, *, stations: Iterable[str], reports: Iterable[str]) -> pd.DataFrame:
    """Stored rows of these station records or reports, without their evidence (decoding every
    row's JSON cost more than the rest of the write; :func:`_stored_evidence` fetches the few
    that are compared)."""
    cols = [Candidate.id, Candidate.station_record_id, Candidate.report_id, Candidate.rank, Candidate.score,
            Candidate.probability, Candidate.model_version]
    names = ["id", "station_record_id", "report_id", "rank", "score", "probability", "model_version"]
    parts: list[pd.DataFrame] = []
    for column, values in ((Candidate.station_record_id, sorted(set(stations))), (Candidate.report_id, sorted(set(reports)))):
        for chunk in chunks(values):
            rows = session.execute(sa.select(*cols).where(column.in_(chunk))).all()
            if rows:
                parts.append(pd.DataFrame(rows, columns=names))
    if not parts:
        return pd.DataFrame(columns=names)
    return pd.concat(parts, ignore_index=True).drop_duplicates("id")


def _stored_evidence(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for chunk in chunks(sorted(ids)):
        rows = session.execute(sa.select(Candidate.id, Candidate.evidence).where(Candidate.id.in_(chunk)))
        out.update((cid, evidence) for cid, evidence in rows)
    return out


def list_floors(session: Session, top_k: int) -> dict[str, float]:
    """Per station record with a full top-``top_k`` list: the score a new pair must beat to enter."""
    stmt = (sa.select(Candidate.station_record_id, sa.func.min(Candidate.score), sa.func.count())
            .where(Candidate.rank <= top_k).group_by(Candidate.station_record_id))
    return {sid: float(low) for sid, low, n in session.execute(stmt) if n >= top_k}


def stations_holding(session: Session, report_ids: Iterable[str]) -> set[str]:
    """Station records with a stored candidate row of one of these reports."""
    out: set[str] = set()
    for chunk in chunks(sorted(set(report_ids))):
        out.update(session.scalars(sa.select(Candidate.station_record_id).where(Candidate.report_id.in_(chunk)).distinct()))
    return out


def _drop_losers(session: Session, fresh: pd.DataFrame, *, top_k: int, keep_stations: set[str]) -> pd.DataFrame:
    """Fresh rows that cannot enter a full stored top-K list (score below its K-th) go now, so a
    night of new reports does not rewrite every station record's list. Rows of stations whose
    list is being rebuilt, and pairs under review, are kept."""
    if fresh.empty:
        return fresh
    floor = list_floors(session, top_k)
    if not floor:
        return fresh
    decided = decisions.pairs_under_review(session)
    under_review = set(zip(decided["station_record_id"], decided["report_id"]))
    low = fresh["station_record_id"].map(floor).astype(float)
    losing = (fresh["score"].astype(float) < low).to_numpy() & ~fresh["station_record_id"].isin(keep_stations).to_numpy()
    if under_review:
        losing &= ~np.array([p in under_review for p in zip(fresh["station_record_id"], fresh["report_id"])], dtype=bool)
    return fresh.loc[~losing]


def apply_candidates(session: Session, fresh: pd.DataFrame, *, rematched_stations: Iterable[str],
                     rematched_reports: Iterable[str], top_k: int, model_version: str, run_id: int | None,
                     strong_probability: float = 0.95,
                     probability: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> CandidateChanges:
    """Merge a night's match rows into the queue and keep the top ``top_k`` per station record.

    ``fresh`` holds match rows (the matcher's output contract). Old rows of a re-matched station
    record or report are replaced (their content changed, or they are new); other stations keep
    their rows and gain the fresh ones that beat them. Excluded pairs and closed records go.

    ``probability(scores, station_ids)`` (the model's, see matching/probability.py) gives the
    probability of every row of a changed list afresh: it is normalised over the whole list, so
    a new candidate changes the probability of the others.
    """
    rematched_s, rematched_r = set(map(str, rematched_stations)), set(map(str, rematched_reports))
    fresh = fresh.copy()
    fresh["station_record_id"] = fresh["station_record_id"].astype(str)
    fresh["report_id"] = fresh["report_id"].astype(str)
    # Station records whose list may change: re-matched ones, ones with fresh rows, and ones
    # holding a re-matched report (that row is stale and goes).
    via_reports = _existing_candidates(session, stations=(), reports=rematched_r)
    fresh = _drop_losers(session, fresh, top_k=top_k, keep_stations=rematched_s | set(via_reports["station_record_id"]))
    touched = set(fresh["station_record_id"]) | rematched_s | set(via_reports["station_record_id"])
    old = _existing_candidates(session, stations=touched, reports=())

    decided = decisions.latest_decisions(session)
    pair_key = lambda s, r: pd.Series(s, dtype=str).str.cat(pd.Series(r, dtype=str), sep="\x1f").to_numpy()  # noqa: E731
    excluded = set(pair_key(*(decided.loc[decided["decision"] == EXCLUDED, c] for c in ("station_record_id", "report_id"))))
    kept_decided = set(pair_key(*(decided.loc[decided["decision"].isin(KEEP_DECIDED), c] for c in ("station_record_id", "report_id"))))
    confirmed = decided[decided["decision"] == CONFIRMED]
    closed_s, closed_r = set(confirmed["station_record_id"]), set(confirmed["report_id"])
    confirmed_pairs = set(pair_key(confirmed["station_record_id"], confirmed["report_id"]))

    old = old.assign(key=pair_key(old["station_record_id"], old["report_id"]))
    stale = old["station_record_id"].isin(rematched_s) | old["report_id"].isin(rematched_r)
    carried = old.loc[~stale | old["key"].isin(kept_decided)]
    new_rows = pd.DataFrame({
        "station_record_id": fresh["station_record_id"].to_numpy(),
        "report_id": fresh["report_id"].to_numpy(),
        "score": fresh["score"].astype(float).to_numpy(),
        "probability": fresh["probability"].astype(float).to_numpy(),
        "evidence": _evidence(fresh),
        "model_version": model_version,
        "fresh": True,
    })
    new_rows["key"] = pair_key(new_rows["station_record_id"], new_rows["report_id"])
    parts = [p for p in (carried.drop(columns=["id", "rank"]), new_rows) if len(p)]
    merged = pd.concat(parts, ignore_index=True) if parts else new_rows
    for column, missing in (("evidence", None), ("fresh", False)):  # carried rows alone lack them
        if column not in merged:
            merged[column] = missing
    merged = merged.drop_duplicates("key", keep="last")  # fresh rows win over carried ones
    drop = merged["key"].isin(excluded) | (
        (merged["station_record_id"].isin(closed_s) | merged["report_id"].isin(closed_r)) & ~merged["key"].isin(confirmed_pairs)
    )
    merged = merged.loc[~drop]
    merged = merged.sort_values(["station_record_id", "score", "report_id"], ascending=[True, False, True], kind="stable")
    merged["rank"] = merged.groupby("station_record_id").cumcount() + 1
    merged = merged.loc[(merged["rank"] <= top_k) | merged["key"].isin(kept_decided)]
    if probability is not None and len(merged):
        # assign: a column set on the rows just selected warned (SettingWithCopyWarning) in a night's log
        merged = merged.assign(probability=np.round(probability(merged["score"].astype(float).to_numpy(),
                                                                merged["station_record_id"].to_numpy()), 6))

    # Diff against what is stored for the touched station records. A carried row differs from
    # its stored one in rank only; a fresh row that is stored may differ in anything.
    stored = old
    stored_by_key = dict(zip(stored["key"], zip(stored["id"].astype(int).tolist(), stored["rank"].astype(int).tolist(),
                                                stored["score"].astype(float).tolist(), stored["model_version"].tolist(),
                                                stored["probability"].astype(float).tolist())))
    final_keys = set(merged["key"])
    gone = stored.loc[~stored["key"].isin(final_keys), "id"].astype(int).tolist()
    for chunk in chunks(gone):
        session.execute(sa.delete(Candidate).where(Candidate.id.in_(chunk)))
    is_fresh = merged["fresh"].eq(True).tolist()  # carried rows: NaN after the concat
    keys = merged["key"].tolist()
    compared = [stored_by_key[k][0] for k, f in zip(keys, is_fresh) if f and k in stored_by_key]
    stored_evidence = _stored_evidence(session, compared) if compared else {}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    rank_updates: list[dict[str, Any]] = []
    for key, fresh_row, sid, rid, rank, score, probability_, evidence, version in zip(
            keys, is_fresh, merged["station_record_id"].tolist(), merged["report_id"].tolist(),
            merged["rank"].astype(int).tolist(), merged["score"].astype(float).tolist(),
            merged["probability"].astype(float).tolist(), merged["evidence"].tolist(), merged["model_version"].tolist()):
        have = stored_by_key.get(key)
        if have is None:
            inserts.append({"station_record_id": sid, "report_id": rid, "rank": rank, "score": score,
                            "probability": probability_, "evidence": evidence, "model_version": version,
                            "run_id": run_id, "updated_at": now, "created_at": now})
        elif not fresh_row:
            if have[1] != rank or abs(have[4] - probability_) > 1e-6:
                rank_updates.append({"_id": have[0], "rank": rank, "probability": probability_, "run_id": run_id,
                                     "updated_at": now})
        else:
            held = stored_evidence.get(have[0])
            held = held if isinstance(held, dict) or held is None else json.loads(held)
            if not (have[1] == rank and have[2] == score and held == evidence and have[3] == version
                    and abs(have[4] - probability_) <= 1e-6):
                updates.append({"_id": have[0], "rank": rank, "score": score, "probability": probability_,
                                "evidence": evidence, "model_version": version, "run_id": run_id, "updated_at": now})
    for batch, columns in ((updates, ("rank", "score", "probability", "evidence", "model_version", "run_id", "updated_at")),
                           (rank_updates, ("rank", "probability", "run_id", "updated_at"))):
        if batch:
            stmt = (sa.update(Candidate).where(Candidate.id == sa.bindparam("_id"))
                    .values({k: sa.bindparam(k) for k in columns}))
            session.connection().execute(stmt, batch)
    if inserts:
        session.execute(sa.insert(Candidate), inserts)
    strong = sum(1 for r in inserts if r["probability"] >= strong_probability)
    return CandidateChanges(len(inserts), len(updates) + len(rank_updates), len(gone), len(touched), strong)



def rerank(session: Session, stations: Iterable[str]) -> None:
    """Close up the ranks of these station records after rows left their lists (one read, one
    batched update)."""
    ids = sorted(set(stations))
    rows: list[tuple[int, str, int, float, str]] = []
    for chunk in chunks(ids):
        rows += session.execute(sa.select(Candidate.id, Candidate.station_record_id, Candidate.rank, Candidate.score,
                                          Candidate.report_id).where(Candidate.station_record_id.in_(chunk))).all()
    if not rows:
        return
    df = pd.DataFrame(rows, columns=["id", "station_record_id", "rank", "score", "report_id"])
    df = df.sort_values(["station_record_id", "score", "report_id"], ascending=[True, False, True], kind="stable")
    df["new_rank"] = df.groupby("station_record_id").cumcount() + 1
    moved = df.loc[df["rank"] != df["new_rank"]]
    if len(moved):
        stmt = sa.update(Candidate).where(Candidate.id == sa.bindparam("_id")).values(rank=sa.bindparam("new_rank"))
        session.connection().execute(stmt, [{"_id": int(i), "new_rank": int(r)}
                                            for i, r in zip(moved["id"], moved["new_rank"])])


def purge_closed(session: Session) -> int:
    """Drop queue rows of confirmed people and of ruled-out pairs (safety net after decisions)."""
    d = decisions.latest_decisions(session)
    n = 0
    excluded = d.loc[d["decision"] == EXCLUDED]
    confirmed = d.loc[d["decision"] == CONFIRMED]
    pairs = list(zip(excluded["station_record_id"], excluded["report_id"]))
    for part in chunks(pairs, 400):
        n += int(session.execute(sa.delete(Candidate).where(
            sa.tuple_(Candidate.station_record_id, Candidate.report_id).in_(part))).rowcount or 0)
    kept = set(zip(confirmed["station_record_id"], confirmed["report_id"]))
    closed_s, closed_r = sorted(set(confirmed["station_record_id"])), sorted(set(confirmed["report_id"]))
    for column, values in ((Candidate.station_record_id, closed_s), (Candidate.report_id, closed_r)):
        for part in chunks(values):
            found = session.execute(sa.select(Candidate.id, Candidate.station_record_id, Candidate.report_id)
                                    .where(column.in_(part))).all()
            gone = [cid for cid, s, r in found if (s, r) not in kept]
            for ids in chunks(gone):
                n += int(session.execute(sa.delete(Candidate).where(Candidate.id.in_(ids))).rowcount or 0)
    return n


def review_queue(session: Session, limit: int | None = None) -> pd.DataFrame:
    """Open candidates, best first within each station record (what reviewers see)."""
    stmt = sa.select(Candidate.station_record_id, Candidate.report_id, Candidate.rank, Candidate.score,
                     Candidate.probability, Candidate.model_version).order_by(Candidate.station_record_id, Candidate.rank)
    if limit:
        stmt = stmt.limit(limit)
    df = pd.DataFrame(session.execute(stmt).all(),
                      columns=["station_record_id", "report_id", "rank", "score", "probability", "model_version"])
    closed_s, closed_r = decisions.closed_ids(session)
    return df.loc[~df["station_record_id"].isin(closed_s) & ~df["report_id"].isin(closed_r)].reset_index(drop=True)
