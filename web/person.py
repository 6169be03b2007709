"""What the person page shows: the station record beside each candidate report, the marks of
agreement, the waterfall of weights and the decision history; and the page's routes.

The first :data:`OPEN_CANDIDATES` candidates are open, the others folded until opened. ID numbers
are masked (first 6, last 4) unless the reader's role sees them in full, and then only after a
click that the audit log records.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.store.models import Candidate, Decision, Report, StationRecord

from .labels import COMPARISONS, comparison_names, evidence_summary, level_label, local_time, number

AGREE_BITS = 0.5  # a field counts as agreeing / disagreeing beyond half a bit either way
OPEN_CANDIDATES = 3
PROBABILITY_MEANING = "概率：在这份候选名单内，这份寻人启事就是此人的可能性"


@dataclass(frozen=True)
class FieldRow:
    label: str
    station: str
    report: str
    mark: str  # agree / disagree / neutral
    detail: str  # level text with weight, e.g. 同县（+10.3）


@dataclass(frozen=True)
class Bar:
    label: str
    detail: str
    weight: float
    left: float  # percent of the chart width
    width: float
    kind: str  # prior / pos / neg / zero / total


@dataclass(frozen=True)
class CandidateView:
    report_id: str
    name: str  # the report's name (for the folded summary line)
    rank: int
    score: float
    probability: float
    rows: list[FieldRow]
    bars: list[Bar]
    zero_at: float
    summary: str
    decision: str | None
    decision_by: str | None
    decision_at: str


@dataclass(frozen=True)
class HistoryRow:
    report_id: str
    decision: str
    note: str
    reviewer: str
    at: str


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def load_json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value or "{}")
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def current_station_record(session: Session, record_id: str) -> StationRecord | None:
    return session.scalars(sa.select(StationRecord).where(StationRecord.record_id == record_id, StationRecord.is_current)).first()


def _age_at(found: Any, birth: Any) -> int | None:
    try:
        f, b = dt.date.fromisoformat(str(found)[:10]), dt.date.fromisoformat(str(birth)[:10])
    except ValueError:
        return None
    return f.year - b.year - ((f.month, f.day) < (b.month, b.day))


def _years_between(a: Any, b: Any) -> float | None:
    try:
        x, y = dt.date.fromisoformat(str(a)[:10]), dt.date.fromisoformat(str(b)[:10])
    except ValueError:
        return None
    return (x - y).days / 365.25


def field_rows(st_raw: dict[str, Any], st_norm: dict[str, Any], rp_raw: dict[str, Any], rp_norm: dict[str, Any],
               evidence: dict[str, Any], show_phone: bool, full_ids: bool = False) -> list[FieldRow]:
    """The two records field by field; each row marked by the weights of its comparisons. ID
    numbers (and ID-shaped runs in notes and marks) are masked unless ``full_ids``."""
    from .pages import id_shown, text_shown

    age = _age_at(st_norm.get("found_date"), rp_norm.get("birth_date"))
    gap = _years_between(st_norm.get("found_date"), rp_norm.get("missing_date"))
    name = _text(rp_raw.get("name"))
    if _text(rp_raw.get("aliases")):
        name += f"（曾用名/小名：{_text(rp_raw.get('aliases'))}）"
    birth = _text(rp_raw.get("birth_date"))
    report_age = "；".join(p for p in (f"出生 {birth}" if birth else "",
                                      f"走失时 {_text(rp_raw.get('age_at_missing'))} 岁" if _text(rp_raw.get("age_at_missing")) else "",
                                      f"救助时约 {age} 岁" if age is not None else "") if p)
    report_date = _text(rp_raw.get("missing_date"))
    if report_date and gap is not None:
        report_date += f"（救助时已走失 {gap:.1f} 年）" if gap >= 0 else "（晚于救助日期）"
    phone = _text(rp_raw.get("contact_phone"))
    spec: list[tuple[str, str, str, tuple[str, ...]]] = [
        ("姓名", _text(st_raw.get("name")), name, ("name",)),
        ("性别", _text(st_norm.get("gender") or st_raw.get("gender")), _text(rp_norm.get("gender") or rp_raw.get("gender")), ("gender",)),
        ("年龄", _text(st_raw.get("estimated_age")), report_age, ("age",)),
        ("日期", f"救助 {_text(st_raw.get('found_date'))}", f"走失 {report_date}" if report_date else "", ("dates",)),
        ("籍贯 / 户籍", _text(st_raw.get("hometown")), _text(rp_raw.get("hometown")), ("hometown",)),
        ("口音", _text(st_raw.get("dialect")), "（与户籍地比较）" if _text(st_raw.get("dialect")) else "", ("dialect",)),
        ("发现 / 走失地点", _text(st_raw.get("found_place")), _text(rp_raw.get("missing_place")), ("found_place",)),
        ("身高", _text(st_raw.get("height_cm")), _text(rp_raw.get("height_cm")), ("height",)),
        ("体貌特征", text_shown(st_raw.get("features"), full_ids), text_shown(rp_raw.get("features"), full_ids), ("marks", "conditions")),
        ("身份证号", id_shown(st_raw.get("id_number"), full_ids), id_shown(rp_raw.get("id_number"), full_ids), ("id_number",)),
        ("备注 / 来源", text_shown(st_raw.get("notes"), full_ids), _text(rp_raw.get("source")), ()),
        ("家属电话", "", (phone if show_phone else "（仅公安联络员可见）") if phone else "", ()),
    ]
    rows = []
    for label, s_val, r_val, comps in spec:
        weight = sum(number(evidence.get(f"{c}_weight")) for c in comps)
        known = [c for c in comps if evidence.get(f"{c}_level") not in (None, "null")]
        detail = "；".join(f"{level_label(c, evidence.get(f'{c}_level'))}（{number(evidence.get(f'{c}_weight')):+.1f}）" for c in known)
        mark = "agree" if known and weight > AGREE_BITS else "disagree" if known and weight < -AGREE_BITS else "neutral"
        rows.append(FieldRow(label, s_val, r_val, mark, detail))
    return rows


def waterfall(evidence: dict[str, Any]) -> tuple[list[Bar], float]:
    """Bars from the prior through each comparison to the score; positions in percent."""
    steps = [("先验", "基础比值", number(evidence.get("prior_weight")), "prior")]
    for comp in comparison_names(evidence):
        w = number(evidence.get(f"{comp}_weight"))
        level = evidence.get(f"{comp}_level")
        kind = "pos" if w > 0 else "neg" if w < 0 else "zero"
        steps.append((COMPARISONS.get(comp, comp), level_label(comp, level), w, kind))
    running, spans = 0.0, []
    for label, detail, w, kind in steps:
        spans.append((label, detail, w, kind, running, running + w))
        running += w
    spans.append(("总分", "对数比值（比特）", running, "total", 0.0, running))
    lo = min(0.0, *(min(a, b) for *_, a, b in spans))
    hi = max(0.0, *(max(a, b) for *_, a, b in spans))
    scale = 100.0 / ((hi - lo) or 1.0)
    bars = [Bar(label, detail, w, round((min(a, b) - lo) * scale, 2), round(max(abs(b - a) * scale, 0.4), 2), kind)
            for label, detail, w, kind, a, b in spans]
    return bars, round(-lo * scale, 2)


def candidates_view(session: Session, record: StationRecord, show_phone: bool, full_ids: bool = False) -> list[CandidateView]:
    """Every open candidate of this station record, best first."""
    cands = session.scalars(sa.select(Candidate).where(Candidate.station_record_id == record.record_id)
                            .order_by(Candidate.rank, Candidate.report_id)).all()
    ids = [c.report_id for c in cands]
    reports = {r.report_id: r for r in session.scalars(sa.select(Report).where(Report.report_id.in_(ids), Report.is_current))} if ids else {}
    latest = latest_for_person(session, record.record_id)
    st_raw, st_norm = load_json(record.raw), load_json(record.normalized)
    out = []
    for c in cands:
        rp = reports.get(c.report_id)
        rp_raw, rp_norm = (load_json(rp.raw), load_json(rp.normalized)) if rp else ({}, {})
        ev = load_json(c.evidence)
        bars, zero_at = waterfall(ev)
        d = latest.get(c.report_id)
        out.append(CandidateView(c.report_id, _text(rp_raw.get("name")), c.rank, float(c.score), float(c.probability),
                                 field_rows(st_raw, st_norm, rp_raw, rp_norm, ev, show_phone, full_ids), bars, zero_at,
                                 evidence_summary(ev), d.decision if d else None, d.reviewer if d else None,
                                 local_time(d.decided_at) if d else ""))
    return out


def latest_for_person(session: Session, record_id: str) -> dict[str, Decision]:
    """report id -> the decision in force for each pair of this station record."""
    out: dict[str, Decision] = {}
    for d in session.scalars(sa.select(Decision).where(Decision.station_record_id == record_id).order_by(Decision.id)):
        out[d.report_id] = d
    return out


def history(session: Session, record_id: str) -> list[HistoryRow]:
    rows = session.scalars(sa.select(Decision).where(Decision.station_record_id == record_id).order_by(Decision.id.desc())).all()
    return [HistoryRow(d.report_id, d.decision, d.note or "", d.reviewer, local_time(d.decided_at)) for d in rows]


def has_id_numbers(record: StationRecord, candidates: list[CandidateView]) -> bool:
    """Whether the page masks anything a full view would show."""
    raw = load_json(record.raw)
    return bool(_text(raw.get("id_number"))) or any(
        "*" in r.station or "*" in r.report for c in candidates for r in c.rows if r.label in ("身份证号", "备注 / 来源", "体貌特征"))


def register(app) -> None:  # type: ignore[no-untyped-def]
    """The person page (``?ids=full``: ID numbers in full, for the roles that may, audited) and its decision form."""
    from typing import Annotated
    from urllib.parse import quote

    from fastapi import Form, HTTPException, Query, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    from xunqin.store import audit_log, decisions

    from . import auth, params, queue
    from .app import DB, User
    from .labels import DECISION_CHOICES
    from .pages import check_csrf, deny, id_shown, ip, need, render, sees_full_id, text_shown

    note_max = 500

    def person_record(s: Session, request: Request, user: auth.CurrentUser, record_id: str) -> tuple[StationRecord, str | None]:
        """The current station record, for a user allowed to see it; one 404 for "not there"
        and for "another station's" (that one audited), so ids cannot be probed."""
        need(s, request, user, auth.CAN_REVIEW)
        missing = "没有这条救助记录，或它不属于您的救助站"
        record = current_station_record(s, record_id) if len(record_id) <= 200 else None
        if record is None:
            raise HTTPException(404, missing)
        station = load_json(record.normalized).get("station") or load_json(record.raw).get("station")
        if not user.sees_station(station):
            raise deny(s, request, user, 404, missing, "other_station", entity="station_record", entity_id=record.record_id)
        return record, station

    @app.get("/person/{record_id}", response_class=HTMLResponse)
    def person_page(request: Request, s: DB, user: User, record_id: str, saved: Annotated[str, Query(max_length=200)] = "",
                    ids: Annotated[str, Query(max_length=10)] = "") -> Response:
        record, station = person_record(s, request, user, record_id)
        full = params.choice(ids, ("full",), "ids") == "full"
        if full and not sees_full_id(user):
            raise deny(s, request, user, 403, "您的角色只能看到隐去中间位数的身份证号", "role",
                       entity="station_record", entity_id=record.record_id)
        cands = candidates_view(s, record, user.sees_phone, full_ids=full)
        # one entry per view: a view of the full numbers is its own kind, naming the reports shown
        if full:
            audit_log.add(s, user.username, "id_number_view", ip=ip(request), entity="station_record", entity_id=record.record_id,
                  detail={"candidates": len(cands), "reports": [c.report_id for c in cands]})
        else:
            audit_log.add(s, user.username, "person_view", ip=ip(request), entity="station_record", entity_id=record.record_id,
                  detail={"candidates": len(cands)})
        s.commit()
        raw = load_json(record.raw)
        return render(request, "person.html", user, record_id=record.record_id, station=station, raw=raw,
                      id_number=id_shown(raw.get("id_number"), full), notes=text_shown(raw.get("notes"), full),
                      features=text_shown(raw.get("features"), full), full_ids=full,
                      may_see_full=sees_full_id(user) and has_id_numbers(record, cands),
                      gender=load_json(record.normalized).get("gender"), candidates=cands, open_count=OPEN_CANDIDATES,
                      history=history(s, record.record_id), choices=DECISION_CHOICES,
                      probability_meaning=PROBABILITY_MEANING, saved=saved)

    @app.post("/person/{record_id}/decision")
    def decide(request: Request, s: DB, user: User, record_id: str, report_id: Annotated[str, Form(max_length=200)] = "",
               decision: Annotated[str, Form(max_length=10)] = "", note: Annotated[str, Form(max_length=5000)] = "",
               csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        check_csrf(s, request, user, csrf_token)
        record, _ = person_record(s, request, user, record_id)
        if decision not in DECISION_CHOICES:
            raise HTTPException(400, "请选择 疑似 / 待定 / 排除")
        note = note.strip()
        if len(note) > note_max:
            raise HTTPException(400, f"备注最多 {note_max} 字")
        exists = s.scalar(sa.select(Candidate.id).where(Candidate.station_record_id == record.record_id,
                                                        Candidate.report_id == report_id))
        if exists is None:
            raise HTTPException(404, "该候选已不在队列中，请刷新页面")
        before = queue.fingerprint(s)
        decisions.record_decision(s, record.record_id, report_id, decision, reviewer=user.username, note=note or None,
                                  ip=ip(request))
        queue.refresh_person(s, record.record_id, before)
        s.commit()
        target = quote(record.record_id, safe="")
        return RedirectResponse(f"/person/{target}?saved={quote(report_id, safe='')}#c-{quote(report_id, safe='')}", status_code=303)
