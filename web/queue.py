"""The review queue: an indexed table of station persons with open candidates.

``web_queue`` is derived data. It is rebuilt when the fingerprint of what it is derived from
(candidates, decisions, runs, station records) changes, and patched for one person after a
decision made in the app; so a queue page is one indexed, keyset-paginated SELECT.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.store.models import CONFIRMED, Candidate, Decision, Run, StationRecord

from .labels import age_band
from .models import QueueEntry, WebMeta

PAGE_SIZE = 50
CHUNK = 900
FINGERPRINT_KEY = "queue_fingerprint"
_rebuild_lock = threading.Lock()  # one rebuild at a time per process


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueEntry]
    total: int
    next_cursor: str | None


def fingerprint(session: Session) -> str:
    """Cheap summary of the inputs: counts and max ids (each an index lookup or a count)."""
    parts = [
        session.scalar(sa.select(sa.func.count()).select_from(Candidate)),
        session.scalar(sa.select(sa.func.max(Candidate.id))),
        session.scalar(sa.select(sa.func.max(Decision.id))),
        session.scalar(sa.select(sa.func.max(Run.id))),
        session.scalar(sa.select(sa.func.count()).select_from(Run).where(Run.finished_at.is_not(None))),
        session.scalar(sa.select(sa.func.max(StationRecord.id))),
    ]
    return "|".join("" if p is None else str(p) for p in parts)


def _stored_fingerprint(session: Session) -> str | None:
    return session.scalar(sa.select(WebMeta.value).where(WebMeta.key == FINGERPRINT_KEY))


def _store_fingerprint(session: Session, value: str) -> None:
    row = session.get(WebMeta, FINGERPRINT_KEY)
    if row is None:
        session.add(WebMeta(key=FINGERPRINT_KEY, value=value))
    else:
        row.value = value


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def _status(n_suspect: int, n_pending: int) -> str:
    return "疑似" if n_suspect else "待定" if n_pending else "未审"


def _as_date(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _entries(session: Session, ids: Sequence[str] | None) -> list[dict[str, Any]]:
    """Queue rows for these station record ids (all with candidates when None)."""
    agg = sa.select(Candidate.station_record_id, sa.func.max(Candidate.score), sa.func.max(Candidate.probability),
                    sa.func.count()).group_by(Candidate.station_record_id)
    pairs_q = sa.select(Candidate.station_record_id, Candidate.report_id)
    if ids is None:
        stats = session.execute(agg).all()
        pairs = session.execute(pairs_q).all()
    else:
        stats, pairs = [], []
        for chunk in _chunks(list(ids)):
            stats += session.execute(agg.where(Candidate.station_record_id.in_(chunk))).all()
            pairs += session.execute(pairs_q.where(Candidate.station_record_id.in_(chunk))).all()
    if not stats:
        return []
    wanted = [s[0] for s in stats]
    # Latest decision per pair, for the station records in question.
    last = sa.select(sa.func.max(Decision.id).label("id")).group_by(Decision.station_record_id, Decision.report_id)
    decisions: dict[tuple[str, str], str] = {}
    confirmed: set[str] = set()
    for chunk in ([None] if ids is None else _chunks(wanted)):
        sub = (last if chunk is None else last.where(Decision.station_record_id.in_(chunk))).subquery()
        for sid, rid, dec in session.execute(
            sa.select(Decision.station_record_id, Decision.report_id, Decision.decision).join(sub, Decision.id == sub.c.id)
        ):
            decisions[(sid, rid)] = dec
            if dec == CONFIRMED:
                confirmed.add(sid)
    counts: dict[str, Counter[str]] = {}
    for sid, rid in pairs:
        counts.setdefault(sid, Counter())[decisions.get((sid, rid), "")] += 1
    # Station attributes from the current record version (JSON parsed here, once per rebuild).
    attrs: dict[str, dict[str, Any]] = {}
    stmt = sa.select(StationRecord.record_id, sa.cast(StationRecord.normalized, sa.Text),
                     sa.cast(StationRecord.raw, sa.Text), StationRecord.created_at).where(StationRecord.is_current)
    for chunk in ([None] if ids is None else _chunks(wanted)):
        q = stmt if chunk is None else stmt.where(StationRecord.record_id.in_(chunk))
        for rid, norm_text, raw_text, created in session.execute(q):
            norm, raw = json.loads(norm_text or "{}"), json.loads(raw_text or "{}")
            attrs[rid] = {"norm": norm, "raw": raw, "created": created}
    out: list[dict[str, Any]] = []
    for sid, best, best_p, n in stats:
        if sid in confirmed:  # identified: leaves the queue
            continue
        a = attrs.get(sid, {"norm": {}, "raw": {}, "created": None})
        norm, raw = a["norm"], a["raw"]
        c = counts.get(sid, Counter())
        found = _as_date(norm.get("found_date"))
        since = found or (a["created"].date() if a["created"] else dt.date.today())
        out.append({
            "station_record_id": sid,
            "station": norm.get("station") or raw.get("station"),
            "gender": norm.get("gender") if norm.get("gender") in ("男", "女") else None,
            "age_band": age_band(norm.get("age_low"), norm.get("age_high")),
            "age_text": (str(raw.get("estimated_age") or "")[:60]) or None,
            "found_date": found.isoformat() if found else None,
            "waiting_since": since,
            "best_score": float(best),
            "best_probability": float(best_p),
            "n_candidates": int(n),
            "n_undecided": int(c.get("", 0)),
            "n_suspect": int(c.get("疑似", 0)),
            "n_pending": int(c.get("待定", 0)),
            "status": _status(c.get("疑似", 0), c.get("待定", 0)),
        })
    return out


def rebuild(session: Session) -> int:
    """Rebuild the whole queue index; returns the number of persons in it (caller commits)."""
    fp = fingerprint(session)
    rows = _entries(session, None)
    session.execute(sa.delete(QueueEntry))
    if rows:
        session.execute(sa.insert(QueueEntry), rows)
    _store_fingerprint(session, fp)
    return len(rows)


def ensure_fresh(session: Session) -> bool:
    """Rebuild when the inputs changed since the last build (commits); True when it rebuilt."""
    if _stored_fingerprint(session) == fingerprint(session):
        return False
    with _rebuild_lock:
        if _stored_fingerprint(session) == fingerprint(session):
            return False
        rebuild(session)
        session.commit()
        return True


def refresh_person(session: Session, station_record_id: str, fingerprint_before: str | None = None) -> None:
    """Patch one person's row after a decision (caller commits).

    The stored fingerprint moves on only if nothing else changed meanwhile, so a nightly run
    that landed at the same time still triggers a full rebuild.
    """
    rows = _entries(session, [station_record_id])
    session.execute(sa.delete(QueueEntry).where(QueueEntry.station_record_id == station_record_id))
    if rows:
        session.execute(sa.insert(QueueEntry), rows)
    if fingerprint_before is not None and _stored_fingerprint(session) == fingerprint_before:
        _store_fingerprint(session, fingerprint(session))


def encode_cursor(row: QueueEntry) -> str:
    return f"{row.best_score!r}~{row.waiting_since.isoformat()}~{row.station_record_id}"


def decode_cursor(text: str) -> tuple[float, dt.date, str]:
    """Parse a keyset cursor; ValueError for anything malformed."""
    parts = (text or "").split("~", 2)
    if len(parts) != 3 or not parts[2] or len(text) > 300:
        raise ValueError("bad cursor")
    return float(parts[0]), dt.date.fromisoformat(parts[1]), parts[2]


def page(session: Session, *, station: str | None = None, gender: str | None = None, age: str | None = None,
         status: str | None = None, after: str | None = None, size: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue: best score first, then the longest waiting; keyset on the sort key."""
    where: list[Any] = []
    if station:
        where.append(QueueEntry.station == station)
    if gender:
        where.append(QueueEntry.gender == gender)
    if age:
        where.append(QueueEntry.age_band == age)
    if status:
        where.append(QueueEntry.status == status)
    total = int(session.scalar(sa.select(sa.func.count()).select_from(QueueEntry).where(*where)) or 0)
    stmt = sa.select(QueueEntry).where(*where)
    if after:
        score, since, sid = decode_cursor(after)
        stmt = stmt.where(sa.or_(
            QueueEntry.best_score < score,
            sa.and_(QueueEntry.best_score == score, QueueEntry.waiting_since > since),
            sa.and_(QueueEntry.best_score == score, QueueEntry.waiting_since == since, QueueEntry.station_record_id > sid),
        ))
    stmt = stmt.order_by(QueueEntry.best_score.desc(), QueueEntry.waiting_since, QueueEntry.station_record_id).limit(size + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    return QueuePage(rows, total, encode_cursor(rows[-1]) if more and rows else None)


def stations(session: Session) -> list[str]:
    """Stations that have people in the queue (for the filter)."""
    return [s for s in session.scalars(sa.select(QueueEntry.station).distinct().order_by(QueueEntry.station)) if s]
