"""Police-verification export: the 疑似 pairs of a date range (and station) as XLSX or CSV.

The file starts with its generation time, the count and the filter, then one header row in
Chinese and one row per pair. Family phones are a column only for roles allowed to see them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.store.models import Candidate, Decision, Report, StationRecord

from .labels import CST, evidence_summary, local_time
from .person import load_json

SUSPECT = "疑似"
CHUNK = 900
MAX_DAYS = 366 * 3
# (header, side, raw column) per exported field.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("救助站", "s", "station"), ("站内编号", "s", "record_id"), ("站内登记姓名", "s", "name"),
    ("性别", "s", "gender"), ("估计年龄", "s", "estimated_age"), ("救助日期", "s", "found_date"),
    ("发现地点", "s", "found_place"), ("自述籍贯", "s", "hometown"), ("口音", "s", "dialect"),
    ("身高", "s", "height_cm"), ("体貌特征", "s", "features"), ("身份证号（站）", "s", "id_number"),
    ("备注（站）", "s", "notes"),
    ("寻人编号", "r", "report_id"), ("信息来源", "r", "source"), ("走失者姓名", "r", "name"),
    ("曾用名/小名", "r", "aliases"), ("性别（寻人）", "r", "gender"), ("出生日期", "r", "birth_date"),
    ("走失时年龄", "r", "age_at_missing"), ("走失日期", "r", "missing_date"), ("走失地点", "r", "missing_place"),
    ("户籍地址", "r", "hometown"), ("身高（寻人）", "r", "height_cm"), ("体貌特征（寻人）", "r", "features"),
    ("身份证号（寻人）", "r", "id_number"),
)
PHONE_HEADER = "家属联系电话"
TAIL_HEADERS = ("比对分值", "匹配概率", "比对依据", "标记人", "标记时间", "标记备注")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportResult:
    headers: list[str]
    rows: list[list[Any]]
    pairs: list[tuple[str, str]]
    generated_at: dt.datetime
    filter_text: str


def day_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Beijing calendar days [from, to] as UTC instants [start, end)."""
    if date_to < date_from:
        raise ValueError("结束日期早于开始日期")
    if (date_to - date_from).days > MAX_DAYS:
        raise ValueError("日期范围过长（最多三年）")
    start = dt.datetime.combine(date_from, dt.time(), CST).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), CST).astimezone(dt.timezone.utc)
    return start, end


def _current(session: Session, model: type[StationRecord] | type[Report], key: Any, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(ids), CHUNK):
        for rec in session.scalars(sa.select(model).where(key.in_(ids[i:i + CHUNK]), model.is_current)):
            out[getattr(rec, key.key)] = rec
    return out


def suspect_decisions(session: Session, date_from: dt.date, date_to: dt.date, station: str | None = None,
                      stations_allowed: str | None = None) -> list[tuple[Decision, StationRecord, Report]]:
    """Pairs whose decision in force is 疑似, decided within the days, optionally of one station."""
    start, end = day_range(date_from, date_to)
    last = sa.select(sa.func.max(Decision.id).label("id")).group_by(Decision.station_record_id, Decision.report_id).subquery()
    decisions = session.scalars(
        sa.select(Decision).join(last, Decision.id == last.c.id)
        .where(Decision.decision == SUSPECT, Decision.decided_at >= start, Decision.decided_at < end)
        .order_by(Decision.decided_at, Decision.id)
    ).all()
    st = _current(session, StationRecord, StationRecord.record_id, sorted({d.station_record_id for d in decisions}))
    rp = _current(session, Report, Report.report_id, sorted({d.report_id for d in decisions}))
    out = []
    for d in decisions:
        s, r = st.get(d.station_record_id), rp.get(d.report_id)
        if s is None or r is None:
            continue
        where = load_json(s.normalized).get("station") or load_json(s.raw).get("station")
        if (station and where != station) or (stations_allowed and where != stations_allowed):
            continue
        out.append((d, s, r))
    return out


def build(session: Session, date_from: dt.date, date_to: dt.date, station: str | None, with_phone: bool,
          now: dt.datetime | None = None) -> ExportResult:
    """The export table for the filter; ``with_phone`` adds the family phone column."""
    found = suspect_decisions(session, date_from, date_to, station)
    cands: dict[tuple[str, str], Candidate] = {}
    ids = sorted({d.station_record_id for d, _, _ in found})
    for i in range(0, len(ids), CHUNK):
        for c in session.scalars(sa.select(Candidate).where(Candidate.station_record_id.in_(ids[i:i + CHUNK]))):
            cands[(c.station_record_id, c.report_id)] = c
    headers = ["序号", *(h for h, _, _ in FIELDS), *([PHONE_HEADER] if with_phone else []), *TAIL_HEADERS]
    rows: list[list[Any]] = []
    pairs: list[tuple[str, str]] = []
    for n, (d, s, r) in enumerate(found, start=1):
        s_raw, r_raw = load_json(s.raw), load_json(r.raw)
        values: list[Any] = [n]
        for _, side, col in FIELDS:
            values.append((s_raw if side == "s" else r_raw).get(col) or "")
        if with_phone:
            values.append(r_raw.get("contact_phone") or "")
        c = cands.get((d.station_record_id, d.report_id))
        ev = load_json(c.evidence) if c else {}
        values += [round(float(c.score), 2) if c else "", round(float(c.probability), 4) if c else "",
                   evidence_summary(ev) if ev else "（候选已不在队列中）", d.reviewer, local_time(d.decided_at), d.note or ""]
        rows.append(values)
        pairs.append((d.station_record_id, d.report_id))
    filter_text = f"{date_from.isoformat()} 至 {date_to.isoformat()}；救助站：{station or '全部'}"
    return ExportResult(headers, rows, pairs, now or dt.datetime.now(dt.timezone.utc), filter_text)


def _safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def preamble(result: ExportResult) -> list[list[str]]:
    return [
        ["寻亲比对疑似名单（供公安核查）"],
        ["生成时间", result.generated_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"],
        ["记录数", str(len(result.rows))],
        ["筛选条件", result.filter_text],
        [],
    ]


def to_csv(result: ExportResult) -> bytes:
    """UTF-8 with BOM: Excel on a Chinese Windows PC opens it without garbling."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerows(preamble(result))
    w.writerow(result.headers)
    for row in result.rows:
        w.writerow([_safe(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(result: ExportResult) -> bytes:
    """One sheet: preamble, then the header row (frozen, bold), then the pairs."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "疑似名单"
    for line in preamble(result):
        ws.append(line)
    ws["A1"].font = Font(bold=True, size=14)
    header_row = ws.max_row + 1
    ws.append(result.headers)
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in result.rows:
        # Strings are stored as text (openpyxl would turn "=..." into a formula).
        ws.append([_safe(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    wide = {"发现地点", "走失地点", "户籍地址", "体貌特征", "体貌特征（寻人）", "比对依据", "标记备注", "备注（站）"}
    for i, h in enumerate(result.headers, start=1):
        ws.column_dimensions[ws.cell(row=header_row, column=i).column_letter].width = 40 if h in wide else max(10, 2 * len(h) + 2)
    wb.properties.title = "寻亲比对疑似名单"
    wb.properties.created = result.generated_at.replace(tzinfo=None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def file_name(result: ExportResult, fmt: str) -> str:
    stamp = result.generated_at.astimezone(CST).strftime("%Y%m%d-%H%M%S")
    return f"疑似名单_{stamp}_{len(result.rows)}条.{fmt}"
