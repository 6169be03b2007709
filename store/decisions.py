"""Reviewer decisions (疑似 / 待定 / 排除 / 确认) and what they mean for the queue."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import audit_log
from .models import CONFIRMED, DECISIONS, EXCLUDED, Candidate, Decision, Label, Report, StationRecord, utcnow

# A pair under review (not ruled out) stays in the queue even when it drops out of the top K.
KEEP_DECIDED = ("疑似", "待定", CONFIRMED)


def latest_decisions(session: Session) -> pd.DataFrame:
    """The decision in force per pair: station_record_id, report_id, decision."""
    last = (
        sa.select(sa.func.max(Decision.id).label("id"))
        .group_by(Decision.station_record_id, Decision.report_id)
        .subquery()
    )
    stmt = sa.select(Decision.station_record_id, Decision.report_id, Decision.decision).join(last, Decision.id == last.c.id)
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["station_record_id", "report_id", "decision"])


def decision_in_force(session: Session, station_record_id: str, report_id: str) -> str | None:
    """The latest decision on one pair, None when it was never decided."""
    return session.scalar(
        sa.select(Decision.decision)
        .where(Decision.station_record_id == station_record_id, Decision.report_id == report_id)
        .order_by(Decision.id.desc()).limit(1)
    )


def excluded_pairs(session: Session) -> pd.DataFrame:
    """Pairs a reviewer ruled out (排除): never offered again."""
    d = latest_decisions(session)
    return d.loc[d["decision"] == EXCLUDED, ["station_record_id", "report_id"]].reset_index(drop=True)


def closed_ids(session: Session) -> tuple[set[str], set[str]]:
    """(station record ids, report ids) a reviewer confirmed (确认): out of the queue."""
    d = latest_decisions(session)
    c = d[d["decision"] == CONFIRMED]
    return set(c["station_record_id"]), set(c["report_id"])


def pairs_under_review(session: Session) -> pd.DataFrame:
    """Pairs whose decision keeps them in the queue (疑似 / 待定 / 确认): station_record_id, report_id."""
    d = latest_decisions(session)
    return d.loc[d["decision"].isin(KEEP_DECIDED), ["station_record_id", "report_id"]].reset_index(drop=True)


def _requeue(session: Session, station_record_id: str, report_id: str) -> None:
    """Both records pending again: the next night matches them afresh."""
    for model, column, key in ((StationRecord, StationRecord.record_id, station_record_id), (Report, Report.report_id, report_id)):
        session.execute(sa.update(model).where(column == key, model.is_current).values(matched_run_id=None))


def record_decision(session: Session, station_record_id: str, report_id: str, decision: str, reviewer: str,
                    note: str | None = None, *, label_source: str | None = "reviewer", ip: str | None = None) -> int:
    """Store a reviewer decision (疑似 / 排除 / 待定 / 确认) and update the queue; returns its id.

    A 确认 or 排除 is also a labelled pair the model learns from (``label_source``; None when
    the caller labels it itself, as the police import does). ``ip``: the client address the
    decision came from, for the audit entry."""
    # candidates imports this module (for the decisions in force), so it is imported here
    from .candidates import rerank

    if decision not in DECISIONS:
        raise ValueError(f"unknown decision; expected one of {'/'.join(DECISIONS)}")
    if not reviewer or not str(reviewer).strip():
        raise ValueError("reviewer required")
    prior = decision_in_force(session, station_record_id, report_id)
    row = Decision(station_record_id=station_record_id, report_id=report_id, decision=decision, note=note,
                   reviewer=reviewer, decided_at=utcnow())
    session.add(row)
    session.flush()
    pair = (Candidate.station_record_id == station_record_id) & (Candidate.report_id == report_id)
    if decision == EXCLUDED:
        session.execute(sa.delete(Candidate).where(pair))
        rerank(session, [station_record_id])
    elif decision == CONFIRMED:
        # The person is found: every other pair of this station record or this report leaves.
        others = (Candidate.station_record_id == station_record_id) | (Candidate.report_id == report_id)
        affected = session.scalars(sa.select(Candidate.station_record_id).where(others).distinct()).all()
        session.execute(sa.delete(Candidate).where(others & ~pair))
        rerank(session, affected)
    if prior in (CONFIRMED, EXCLUDED) and decision != prior:
        _requeue(session, station_record_id, report_id)  # undone: match both again next night
    if label_source is not None and decision in (CONFIRMED, EXCLUDED):
        session.add(Label(station_record_id=station_record_id, report_id=report_id, is_match=decision == CONFIRMED,
                          source=label_source, actor=reviewer, reason=note, decision_id=row.id, labelled_at=row.decided_at))
    audit_log.add(session, reviewer, "decision", entity="pair", entity_id=f"{station_record_id}|{report_id}",
                  detail={"decision": decision, "decision_id": row.id}, ip=ip)
    return row.id
