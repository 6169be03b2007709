"""The review queue: an indexed table of station persons with open candidates, and its page.

``web_queue`` is derived data. It is rebuilt when the fingerprint of what it is derived from
(candidates, decisions, runs, station records) changes, and patched for one person after a
decision made in the app; so a queue page is one indexed SELECT with filters (station, sex, age
band, found-date range, hometown province, probability band, decision state), a sort (score,
probability, waiting time, found date) and numbered pages.
"""

import dataclasses
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
MAX_PAGE = 10_000
CHUNK = 900
# Probability bands of the best candidate: key -> (label, low, high), low <= p < high.
PROBABILITY_BANDS: dict[str, tuple[str, float, float]] = {
    "90+": ("90% 以上", 0.9, 2.0), "50-90": ("50%–90%", 0.5, 0.9), "10-50": ("10%–50%", 0.1, 0.5), "0-10": ("10% 以下", -1.0, 0.1),
}
SORTS: dict[str, str] = {"score": "最高分值", "probability": "概率", "waiting": "等待时间", "found": "救助日期（新的在前）"}
FINGERPRINT_KEY = "queue_fingerprint"
_rebuild_lock = threading.Lock()  # one rebuild at a time per process


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueEntry]
    total: int
    number: int  # 1-based
    pages: int


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


def _clipped(value: Any, limit: int) -> str | None:
    text = "" if value is None else str(value).strip()
    return text[:limit] or None


def province_name(codes: Any) -> str | None:
    """The first province of a '|'-joined code list, by name (河南省); None when there is none."""
    from xunqin.normalizers.places import UnknownDivision, division

    for code in str(codes or "").split("|"):
        if len(code) == 6:
            try:
                return division(code).name
            except UnknownDivision:
                continue
    return None


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
            "name": _clipped(raw.get("name"), 100),
            "hometown": _clipped(raw.get("hometown"), 200),
            "hometown_province": province_name(norm.get("hometown_provinces")),
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


@dataclass(frozen=True)
class Filters:
    """What a queue page shows; every field already checked (see :func:`filters_from`)."""

    station: str | None = None
    gender: str | None = None
    age: str | None = None
    status: str | None = None
    found_from: dt.date | None = None
    found_to: dt.date | None = None
    province: str | None = None
    band: str | None = None
    sort: str = "score"

    def query_string(self) -> str:
        """The filters as URL parameters (without the page), for links to other pages."""
        from urllib.parse import urlencode

        values = {"station": self.station, "gender": self.gender, "age": self.age, "status": self.status,
                  "found_from": self.found_from.isoformat() if self.found_from else None,
                  "found_to": self.found_to.isoformat() if self.found_to else None,
                  "province": self.province, "band": self.band, "sort": self.sort if self.sort != "score" else None}
        return urlencode({k: v for k, v in values.items() if v})


def page(session: Session, filters: Filters | None = None, number: int = 1, size: int = PAGE_SIZE) -> QueuePage:
    """Page ``number`` (1-based) of the queue under ``filters``; past the last page gives the last."""
    f = filters or Filters()
    where: list[Any] = []
    if f.station:
        where.append(QueueEntry.station == f.station)
    if f.gender:
        where.append(QueueEntry.gender == f.gender)
    if f.age:
        where.append(QueueEntry.age_band == f.age)
    if f.status:
        where.append(QueueEntry.status == f.status)
    if f.found_from:
        where.append(QueueEntry.found_date >= f.found_from.isoformat())
    if f.found_to:
        where.append(QueueEntry.found_date <= f.found_to.isoformat())
    if f.province:
        where.append(QueueEntry.hometown_province == f.province)
    if f.band:
        _, low, high = PROBABILITY_BANDS[f.band]
        where.append(sa.and_(QueueEntry.best_probability >= low, QueueEntry.best_probability < high))
    total = int(session.scalar(sa.select(sa.func.count()).select_from(QueueEntry).where(*where)) or 0)
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    order = {
        "score": (QueueEntry.best_score.desc(), QueueEntry.waiting_since),
        "probability": (QueueEntry.best_probability.desc(), QueueEntry.best_score.desc()),
        "waiting": (QueueEntry.waiting_since, QueueEntry.best_score.desc()),
        # a person without a found date goes last
        "found": (sa.case((QueueEntry.found_date.is_(None), 1), else_=0), QueueEntry.found_date.desc(), QueueEntry.best_score.desc()),
    }[f.sort]
    stmt = sa.select(QueueEntry).where(*where).order_by(*order, QueueEntry.station_record_id).offset((number - 1) * size).limit(size)
    return QueuePage(list(session.scalars(stmt)), total, number, pages)


def page_numbers(current: int, pages: int, around: int = 2) -> list[int | None]:
    """Page links to show: first, last and a few around the current one; None for a gap."""
    wanted = sorted({1, pages, *range(max(1, current - around), min(pages, current + around) + 1)})
    out: list[int | None] = []
    for n in wanted:
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def provinces(session: Session) -> list[str]:
    """Hometown provinces of the people in the queue (for the filter)."""
    return [p for p in session.scalars(sa.select(QueueEntry.hometown_province).distinct().order_by(QueueEntry.hometown_province)) if p]


def stations(session: Session) -> list[str]:
    """Stations that have people in the queue (for the filter)."""
    return [s for s in session.scalars(sa.select(QueueEntry.station).distinct().order_by(QueueEntry.station)) if s]


def filters_from(params: dict[str, str], *, station: str | None, provinces_known: list[str]) -> Filters:
    """Filters from query parameters, each checked into range: a value no form sends is a 400
    in Chinese (xunqin.web.params), as on the app's other pages."""
    from . import params as checked
    from .labels import AGE_BANDS, GENDERS, STATUSES
    from .pages import parse_day

    def pick(name: str, allowed: Any) -> str | None:
        return checked.choice(params.get(name) or "", list(allowed), name) or None

    found_from = parse_day(params.get("found_from"), "found_from")
    found_to = parse_day(params.get("found_to"), "found_to")
    if found_from and found_to and found_to < found_from:
        raise checked.BadParameter("救助日期的结束日期早于开始日期")
    return Filters(station=station, gender=pick("gender", GENDERS), age=pick("age", AGE_BANDS), status=pick("status", STATUSES),
                   found_from=found_from, found_to=found_to, province=pick("province", provinces_known),
                   band=pick("band", PROBABILITY_BANDS), sort=pick("sort", SORTS) or "score")


def register(app) -> None:  # type: ignore[no-untyped-def]
    """The queue page."""
    from fastapi import HTTPException, Request
    from fastapi.responses import HTMLResponse, Response

    from . import auth
    from .app import DB, User
    from .labels import AGE_BANDS, GENDERS, STATUSES
    from xunqin.store import audit_log

    from .pages import ip, need, render

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, auth.CAN_REVIEW)
        ensure_fresh(s)
        params = {k: v[:200] for k, v in request.query_params.items()}
        if user.role == "staff":
            station = user.station or ""
        else:
            from . import params as checked

            station = checked.choice(params.get("station", ""), stations(s), "station")
        known_provinces = provinces(s)
        f = filters_from(params, station=station or None, provinces_known=known_provinces)
        try:
            number = int(params.get("page") or 1)
        except ValueError:
            raise HTTPException(400, "页码应为数字") from None
        if not 1 <= number <= MAX_PAGE:
            raise HTTPException(400, "页码超出范围")
        pg = page(s, f, number)
        audit_log.add(s, user.username, "queue_view", ip=ip(request), entity="queue", entity_id=str(pg.number),
              detail={"shown": [r.station_record_id for r in pg.rows], "total": pg.total})
        s.commit()
        link_filters = dataclasses.replace(f, station=f.station if user.role != "staff" else None)
        return render(request, "queue.html", user, page=pg, filters=f, today=dt.date.today(),
                      stations=stations(s) if user.role != "staff" else [user.station], provinces=known_provinces,
                      genders=GENDERS, age_bands=AGE_BANDS, statuses=STATUSES, bands=PROBABILITY_BANDS, sorts=SORTS,
                      filter_qs=link_filters.query_string(), numbers=page_numbers(pg.number, pg.pages))
