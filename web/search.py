"""The search page: station records and reports by name (as written or by sound), ID number or
its tail, record or report number, place and date range (:mod:`xunqin.store.search`).

Station staff search their own station's records; reviewers and admins every record and report.
Every search that shows records is in the audit log (which criteria, which records, never what
was typed). ID numbers are masked unless the reader's role sees them and asked to (audited).
"""

import threading
from urllib.parse import urlencode
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from xunqin.store import search

# An index this far behind is brought up to date by the page itself; further behind (a database
# from before the index existed) it asks for ``xunqin search-index`` instead of stalling a page.
CATCH_UP_LIMIT = 20_000
LIMIT = 50
FIELD_MAX = 100
LEVEL_TEXT = {0: "姓名相同", 2: "名字同音", 3: ""}
KIND_TEXT = {"stations": "受助人员", "reports": "寻人启事"}
SCOPES = {"all": "全部", "stations": "受助人员（救助站记录）", "reports": "寻人启事"}


@dataclass(frozen=True)
class Row:
    kind: str
    record_id: str
    link: str | None
    name: str
    match: str
    gender: str
    age: str
    date: str
    place: str
    id_number: str
    where: str  # station, or the report's source
    candidate_of: list[str]  # station records holding this report as a candidate


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _match_text(query: search.Query, hit: search.Hit) -> str:
    if hit.level != 1:
        return LEVEL_TEXT.get(hit.level, "")
    from xunqin.normalizers.names import parse_name

    typed = set(parse_name(query.name).pinyin)
    held = {k for k in _text(hit.normalized.get("name_pinyin")).split("|") if k}
    return "同音" if typed & held else "方言近音"


def index_notice(behind: int) -> str | None:
    if not behind:
        return None
    return f"搜索索引还缺 {behind} 条记录，结果可能不全：请管理员运行 xunqin search-index"


def rows_for(session: Session, query: search.Query, found: search.Found, full_ids: bool) -> list[Row]:
    import sqlalchemy as sa

    from xunqin.store.models import Candidate

    from .pages import id_shown

    report_ids = [h.record_id for h in found.hits if h.kind == "reports"]
    held: dict[str, list[str]] = {}
    if report_ids:
        for sid, rid in session.execute(sa.select(Candidate.station_record_id, Candidate.report_id)
                                        .where(Candidate.report_id.in_(report_ids)).order_by(Candidate.score.desc())):
            held.setdefault(rid, []).append(sid)
    out = []
    for h in found.hits:
        raw, norm = h.raw, h.normalized
        if h.kind == "stations":
            age, date, place, where = _text(raw.get("estimated_age")), f"救助 {_text(raw.get('found_date'))}", \
                _text(raw.get("hometown")) or _text(raw.get("found_place")), _text(norm.get("station") or raw.get("station"))
            link = f"/person/{h.record_id}"
        else:
            birth = _text(raw.get("birth_date"))
            age = f"出生 {birth}" if birth else (f"走失时 {_text(raw.get('age_at_missing'))} 岁" if _text(raw.get("age_at_missing")) else "")
            date, place, where = f"走失 {_text(raw.get('missing_date'))}", _text(raw.get("hometown")) or _text(raw.get("missing_place")), \
                _text(raw.get("source"))
            link = None
        name = _text(raw.get("name"))
        if h.kind == "reports" and _text(raw.get("aliases")):
            name += f"（{_text(raw.get('aliases'))}）"
        out.append(Row(h.kind, h.record_id, link, name, _match_text(query, h), _text(norm.get("gender") or raw.get("gender")),
                       age, date, place, id_shown(raw.get("id_number"), full_ids), where, held.get(h.record_id, [])[:5]))
    return out


def register(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi import HTTPException, Request
    from fastapi.responses import HTMLResponse, Response

    from .app import DB, User
    from xunqin.store import audit_log

    from . import params
    from .pages import CAN_SEARCH, clip, deny, ip, need, parse_day, render, sees_full_id

    lock = threading.Lock()  # one index catch-up at a time per app

    def index_state(s: Session) -> str | None:
        """None when the index is current (after catching up a small lag), else a notice."""
        with lock:
            behind = search.catch_up_if_small(s, CATCH_UP_LIMIT)
        return index_notice(behind)

    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, CAN_SEARCH)
        p = request.query_params
        form = {k: clip(p.get(k), FIELD_MAX) for k in ("name", "id_number", "number", "place", "date_from", "date_to")}
        scope = params.choice(p.get("scope", "")[:20], list(SCOPES), "scope") or "all"
        full = params.choice(p.get("ids", "")[:10], ("full",), "ids") == "full"
        if full and not sees_full_id(user):
            raise deny(s, request, user, 403, "您的角色只能看到隐去中间位数的身份证号", "role")
        ctx: dict[str, Any] = {"form": form, "scope": scope, "scopes": SCOPES, "kind_text": KIND_TEXT, "rows": None,
                               "total": 0, "capped": False, "notes": [], "error": None, "notice": None, "full_ids": full,
                               "may_see_full": sees_full_id(user), "limit": LIMIT}
        if not any(form.values()):
            return render(request, "search.html", user, **ctx)
        if user.role == "staff":
            if not user.station:
                raise HTTPException(403, "您的账号没有所属救助站")
            kinds: tuple[str, ...] = ("stations",)
            station: str | None = user.station
        else:
            kinds = search.KINDS if scope == "all" else (scope,)
            station = None
        query = search.Query(name=form["name"], id_text=form["id_number"], number=form["number"], place=form["place"],
                             date_from=parse_day(form["date_from"], "date_from"), date_to=parse_day(form["date_to"], "date_to"),
                             kinds=kinds, station=station)
        ctx["notice"] = index_state(s)
        try:
            found = search.find(s, query, limit=LIMIT)
        except search.QueryError as exc:
            ctx["error"] = str(exc)
            return render(request, "search.html", user, code=400, **ctx)
        rows = rows_for(s, query, found, full)
        # one entry per search; a search showing full ID numbers is an ID-number view
        detail = {"criteria": query.criteria(), "scope": list(kinds), "total": found.total,
                  "shown": [f"{r.kind[0].upper()}:{r.record_id}" for r in rows]}
        if full:
            audit_log.add(s, user.username, "id_number_view", entity="search", detail=detail, ip=ip(request))
        else:
            audit_log.add(s, user.username, "search", entity="search", detail=detail, ip=ip(request))
        s.commit()
        plain = {**{k: v for k, v in form.items() if v}, **({"scope": scope} if scope != "all" else {})}
        ctx.update(rows=rows, total=found.total, capped=found.capped, notes=found.notes,
                   full_link="/search?" + urlencode({**plain, "ids": "full"}), masked_link="/search?" + urlencode(plain))
        return render(request, "search.html", user, **ctx)

