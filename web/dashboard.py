"""The province's figures (reviewers, admins): people held per station, with candidates waiting,
sent to the police, confirmed, gone home; median days from admission to the first candidate and
to going home; a chart over months (SVG drawn here); all of it as XLSX.

Counts of people, never who: the page shows no personal data. Definitions:

* held: current station records not gone home; admission is the found date (救助日期).
* candidates waiting: people in the review queue with a candidate nobody decided on yet.
* sent to the police: people with a pair marked 疑似 that was in a police export (audit log).
* confirmed: people with a confirmed pair (a label, a police 比中 or a reviewer's 确认).
* gone home: people with a reunion recorded.
* first candidate: when the first of a person's pairs entered the queue (a pair decided on
  counts from its first decision when it left the queue since).
"""

import datetime as dt
import io
import json
import statistics
from dataclasses import dataclass, field
from html import escape
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.store import search
from xunqin.store.models import AuditLog, Candidate, Decision, Label, PoliceResult, Reunion, SearchKey

from .labels import CST

MONTHS = 24
SERIES = (("admitted", "新入站", "#7b8794"), ("first_candidate", "首次有候选", "#135ea8"), ("sent", "送公安核查", "#d68a00"),
          ("confirmed", "确认身份", "#b42318"), ("home", "回家", "#2e9d4f"))
CATCH_UP_LIMIT = 20_000


@dataclass
class StationFigures:
    station: str
    held: int = 0
    waiting: int = 0
    sent: int = 0
    confirmed: int = 0
    home: int = 0
    days_to_candidate: list[int] = field(default_factory=list)
    days_to_home: list[int] = field(default_factory=list)

    @staticmethod
    def _median(values: list[int]) -> float | None:
        return float(statistics.median(values)) if values else None

    @property
    def median_to_candidate(self) -> float | None:
        return self._median(self.days_to_candidate)

    @property
    def median_to_home(self) -> float | None:
        return self._median(self.days_to_home)


@dataclass
class Figures:
    stations: list[StationFigures]
    total: StationFigures
    months: list[tuple[str, dict[str, int]]]  # ("2026-05", {series: count})
    this_month: dict[str, int]
    generated_at: dt.datetime
    index_lag: int = 0


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite: naive UTC
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(CST).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _earliest(into: dict[str, dt.date], sid: str, day: dt.date | None) -> None:
    if day is not None and (sid not in into or day < into[sid]):
        into[sid] = day


def _exported_pairs(session: Session) -> dict[str, dt.date]:
    """Station record -> the first day one of its pairs went out in a police export."""
    out: dict[str, dt.date] = {}
    for at, detail in session.execute(sa.select(AuditLog.at, AuditLog.detail).where(AuditLog.action == "export")):
        detail = json.loads(detail) if isinstance(detail, str) else (detail or {})
        for pair in detail.get("pairs") or ():
            _earliest(out, str(pair).split("|", 1)[0], _day(at))
    return out


def _confirmed(session: Session) -> dict[str, dt.date]:
    """Station record -> the first day a pair of it was confirmed (label, police 比中, 确认)."""
    out: dict[str, dt.date] = {}
    for sid, at in session.execute(sa.select(Label.station_record_id, Label.labelled_at).where(Label.is_match)):
        _earliest(out, sid, _day(at))
    for sid, on, at in session.execute(sa.select(PoliceResult.station_record_id, PoliceResult.verified_on, PoliceResult.recorded_at)
                                       .where(PoliceResult.result == "confirmed")):
        _earliest(out, sid, _day(on) or _day(at))
    last = sa.select(sa.func.max(Decision.id).label("id")).group_by(Decision.station_record_id, Decision.report_id).subquery()
    for sid, at in session.execute(sa.select(Decision.station_record_id, Decision.decided_at).join(last, Decision.id == last.c.id)
                                   .where(Decision.decision == "确认")):
        _earliest(out, sid, _day(at))
    return out


def _first_candidates(session: Session) -> dict[str, dt.date]:
    out: dict[str, dt.date] = {}
    for sid, first in session.execute(sa.select(Candidate.station_record_id, sa.func.min(sa.func.coalesce(Candidate.created_at, Candidate.updated_at)))
                                      .group_by(Candidate.station_record_id)):
        _earliest(out, sid, _day(first))
    for sid, first in session.execute(sa.select(Decision.station_record_id, sa.func.min(Decision.decided_at)).group_by(Decision.station_record_id)):
        _earliest(out, sid, _day(first))
    return out


def _month_keys(today: dt.date, n: int = MONTHS) -> list[str]:
    keys, year, month = [], today.year, today.month
    for _ in range(n):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def compute(session: Session, today: dt.date | None = None) -> Figures:
    from .models import QueueEntry
    from .queue import ensure_fresh

    today = today or dt.datetime.now(CST).date()
    lag = search.catch_up_if_small(session, CATCH_UP_LIMIT)
    ensure_fresh(session)
    station_of = dict(session.execute(sa.select(SearchKey.record_id, SearchKey.key).where(
        SearchKey.key_type == "station", SearchKey.kind == "stations")).all())
    found = {sid: _day(d) for sid, d in search.found_dates(session).items()}
    home = {sid: _day(on) for sid, on in session.execute(sa.select(Reunion.station_record_id, Reunion.reunited_on))}
    waiting = set(session.scalars(sa.select(QueueEntry.station_record_id).where(QueueEntry.n_undecided > 0)))
    sent, confirmed, first = _exported_pairs(session), _confirmed(session), _first_candidates(session)

    by_station: dict[str, StationFigures] = {}
    total = StationFigures("全省合计")
    for sid, station in station_of.items():
        row = by_station.setdefault(station, StationFigures(station))
        admitted = found.get(sid)
        for target in (row, total):
            target.held += sid not in home
            target.waiting += sid in waiting and sid not in home
            target.sent += sid in sent
            target.confirmed += sid in confirmed
            target.home += sid in home
            if admitted and sid in first:
                target.days_to_candidate.append(max(0, (first[sid] - admitted).days))
            if admitted and home.get(sid):
                target.days_to_home.append(max(0, (home[sid] - admitted).days))  # type: ignore[operator]

    keys = _month_keys(today)
    months = {k: {name: 0 for name, _, _ in SERIES} for k in keys}
    for name, dates in (("admitted", found), ("first_candidate", first), ("sent", sent), ("confirmed", confirmed), ("home", home)):
        for sid, day in dates.items():
            if day is None or sid not in station_of:
                continue
            key = f"{day.year:04d}-{day.month:02d}"
            if key in months:
                months[key][name] += 1
    rows = sorted(by_station.values(), key=lambda r: (-r.held, r.station))
    return Figures(rows, total, [(k, months[k]) for k in keys], months[keys[-1]],
                   dt.datetime.now(dt.timezone.utc), lag)


def chart_svg(months: list[tuple[str, dict[str, int]]], width: int = 960, height: int = 280) -> str:
    """The months as lines, one per series, with axes and a legend (plain SVG, no script)."""
    left, right, top, bottom = 44, 16, 30, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1] + [v for _, values in months for v in values.values()])
    step = 10 ** max(0, len(str(peak)) - 1)
    ceiling = -(-peak // step) * step
    n = max(1, len(months) - 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ceiling)

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="按月人数">']
    for k in range(5):
        v = ceiling * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e7eb"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{int(v)}</text>')
    for i, (key, _) in enumerate(months):
        if i % 3 == 0 or i == len(months) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(key)}</text>')
    for s_i, (name, label, color) in enumerate(SERIES):
        points = " ".join(f"{x(i):.1f},{y(values[name]):.1f}" for i, (_, values) in enumerate(months))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"><title>{escape(label)}</title></polyline>')
        lx = left + s_i * 120
        parts.append(f'<rect x="{lx}" y="8" width="14" height="4" fill="{color}"/><text x="{lx + 18}" y="14">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


HEADERS = ("救助站", "在站人数", "有待审候选", "已送公安核查", "已确认身份", "已回家", "入站到首次候选（中位天数）", "入站到回家（中位天数）")


def table_rows(fig: Figures) -> list[list[Any]]:
    def one(r: StationFigures) -> list[Any]:
        return [r.station, r.held, r.waiting, r.sent, r.confirmed, r.home, r.median_to_candidate, r.median_to_home]

    return [one(r) for r in fig.stations] + [one(fig.total)]


def to_xlsx(fig: Figures) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "各救助站"
    ws.append(["全省寻亲工作统计"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["生成时间", fig.generated_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"])
    ws.append([])
    ws.append(list(HEADERS))
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for row in table_rows(fig):
        ws.append(row)
    ws.column_dimensions["A"].width = 30
    for col in "BCDEFGH":
        ws.column_dimensions[col].width = 16
    months = wb.create_sheet("按月")
    months.append(["月份", *(label for _, label, _ in SERIES)])
    for cell in months[1]:
        cell.font = Font(bold=True)
    for key, values in fig.months:
        months.append([key, *(values[name] for name, _, _ in SERIES)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def register(app) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    from fastapi import Request
    from fastapi.responses import HTMLResponse, Response
    from markupsafe import Markup

    from .app import DB, User
    from .labels import local_time
    from xunqin.store import audit_log

    from .pages import CAN_DASHBOARD, ip, need, render

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard_page(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, CAN_DASHBOARD)
        fig = compute(s)
        s.commit()
        return render(request, "dashboard.html", user, fig=fig, rows=table_rows(fig), headers=HEADERS, series=SERIES,
                      generated=local_time(fig.generated_at),
                      chart=Markup(chart_svg(fig.months)), notice=search_notice(fig.index_lag))

    @app.get("/dashboard.xlsx")
    def dashboard_xlsx(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, CAN_DASHBOARD)
        fig = compute(s)
        audit_log.add(s, user.username, "dashboard_export", ip=ip(request), entity="dashboard", detail={"stations": len(fig.stations)})
        s.commit()
        name = f"全省寻亲统计_{fig.generated_at.astimezone(CST).strftime('%Y%m%d-%H%M%S')}.xlsx"
        return Response(to_xlsx(fig), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=\"dashboard.xlsx\"; filename*=UTF-8''{quote(name)}"})


def search_notice(lag: int) -> str | None:
    return f"统计所用的索引还缺 {lag} 条记录，数字可能偏小：请管理员运行 xunqin search-index" if lag else None
