"""Exports of the 疑似 pairs of a date range (and station) as XLSX or CSV, each holding what its
recipient needs and no more.

The file starts with its generation time, the count and the filter, then one header row in
Chinese and one row per pair. What a row holds depends on who downloads it (:data:`CONTENTS`):

- the police liaison (``police``) verifies identities: calls the family, checks the household
  register, arranges DNA: every field as written, both ID numbers in full, the family phone;
- reviewers and administrators (``review``) follow up what went to the police and talk about a
  case with the station; the details stay in the workstation, where each view is audited: ID
  numbers masked (first 6 and last 4: the region and the tail are enough to tell two apart),
  places only down to the county (the level the matcher compares; street, village and house
  number are for the police), the birth date's year (enough to compare ages), no family phone,
  no station notes (free text that may hold anything); names, sex, ages, dates, marks and the
  evidence stay, as they are what the match rests on.

Cells a spreadsheet would run as formulas are defused (:func:`xunqin.ingest.spreadsheet.defuse_formula`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.ingest.reasons import mask_id_number
from xunqin.ingest.spreadsheet import defuse_formula
from xunqin.store.models import Candidate, Decision, Report, StationRecord

from .labels import CST, evidence_summary, local_time
from .params import MAX_DAY, MIN_DAY
from .person import load_json

SUSPECT = "疑似"
CHUNK = 900
MAX_DAYS = 366 * 3
# How a field is shown: as written, masked (ID numbers), its division down to the county (from
# the normalized place codes), the year only, or not at all.
AS_IS, MASKED, COUNTY, YEAR, OMIT = "as_is", "masked", "county", "year", "omit"


@dataclass(frozen=True)
class Field:
    header: str
    side: str  # "s" station record, "r" report
    column: str  # raw column
    police: str  # how the police file shows it
    review: str  # how the reviewers' file shows it
    codes: str | None = None  # normalized column with the place's division codes (for COUNTY)


FIELDS: tuple[Field, ...] = (
    Field("救助站", "s", "station", AS_IS, AS_IS),
    Field("站内编号", "s", "record_id", AS_IS, AS_IS),
    Field("站内登记姓名", "s", "name", AS_IS, AS_IS),
    Field("性别", "s", "gender", AS_IS, AS_IS),
    Field("估计年龄", "s", "estimated_age", AS_IS, AS_IS),
    Field("救助日期", "s", "found_date", AS_IS, AS_IS),
    Field("发现地点", "s", "found_place", AS_IS, COUNTY, "found_codes"),
    Field("自述籍贯", "s", "hometown", AS_IS, COUNTY, "hometown_codes"),
    Field("口音", "s", "dialect", AS_IS, AS_IS),
    Field("身高", "s", "height_cm", AS_IS, AS_IS),
    Field("体貌特征", "s", "features", AS_IS, AS_IS),
    Field("身份证号（站）", "s", "id_number", AS_IS, MASKED),
    Field("备注（站）", "s", "notes", AS_IS, OMIT),
    Field("寻人编号", "r", "report_id", AS_IS, AS_IS),
    Field("信息来源", "r", "source", AS_IS, AS_IS),
    Field("走失者姓名", "r", "name", AS_IS, AS_IS),
    Field("曾用名/小名", "r", "aliases", AS_IS, AS_IS),
    Field("性别（寻人）", "r", "gender", AS_IS, AS_IS),
    Field("出生日期", "r", "birth_date", AS_IS, YEAR),
    Field("走失时年龄", "r", "age_at_missing", AS_IS, AS_IS),
    Field("走失日期", "r", "missing_date", AS_IS, AS_IS),
    Field("走失地点", "r", "missing_place", AS_IS, COUNTY, "missing_codes"),
    Field("户籍地址", "r", "hometown", AS_IS, COUNTY, "hometown_codes"),
    Field("身高（寻人）", "r", "height_cm", AS_IS, AS_IS),
    Field("体貌特征（寻人）", "r", "features", AS_IS, AS_IS),
    Field("身份证号（寻人）", "r", "id_number", AS_IS, MASKED),
    Field("家属联系电话", "r", "contact_phone", AS_IS, OMIT),
)
PHONE_HEADER = "家属联系电话"
TAIL_HEADERS = ("比对分值", "匹配概率", "比对依据", "标记人", "标记时间", "标记备注")
# Header of a field in the reviewers' file when it is shown reduced.
REDUCED_HEADERS = {COUNTY: "（到县）", YEAR: "（年份）", MASKED: "（部分隐藏）"}


@dataclass(frozen=True)
class Content:
    """What one recipient's file holds: ``code`` (police / review), a title, a note for the page."""

    code: str
    title: str
    note: str

    def shows(self, field: Field) -> str:
        return field.police if self.code == "police" else field.review

    @property
    def with_phone(self) -> bool:
        return any(f.header == PHONE_HEADER and self.shows(f) != OMIT for f in FIELDS)


CONTENTS = {
    "police": Content("police", "寻亲比对疑似名单（供公安核查）", "文件含完整身份证号、地址和家属电话，仅供核查使用。"),
    "review": Content("review", "寻亲比对疑似名单（省级跟踪）",
                      "您的角色导出的文件不含家属电话和站内备注，身份证号部分隐藏，地点只到县，出生日期只有年份。"),
}


def content_for(role: str) -> Content:
    """The police liaison gets the verification file; every other role allowed to export the
    reviewers' one."""
    return CONTENTS["police" if role == "police" else "review"]


@dataclass(frozen=True)
class ExportResult:
    headers: list[str]
    rows: list[list[Any]]
    pairs: list[tuple[str, str]]
    generated_at: dt.datetime
    filter_text: str
    title: str


def day_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Beijing calendar days [from, to] as UTC instants [start, end)."""
    if not (MIN_DAY <= date_from <= MAX_DAY and MIN_DAY <= date_to <= MAX_DAY):
        raise ValueError(f"日期应在 {MIN_DAY.year} 年至 {MAX_DAY.year} 年之间")
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


def _county(codes: Any) -> str:
    """The divisions named by '|'-joined codes, province to county (an unknown code is skipped)."""
    from xunqin.normalizers.places import UnknownDivision, division

    names = []
    for code in str(codes or "").split("|"):
        try:
            d = division(code)
        except UnknownDivision:
            continue
        parts = [division(d.province).name] if d.level != "province" else []
        if d.prefecture and d.prefecture != d.code:
            parts.append(division(d.prefecture).name)
        parts.append(d.name)
        names.append("".join(parts))
    return "或".join(dict.fromkeys(names))


def _shown(how: str, raw: dict[str, Any], norm: dict[str, Any], field: Field) -> Any:
    value = raw.get(field.column) or ""
    if how == AS_IS or not value:
        return value
    if how == MASKED:
        return mask_id_number(value)
    if how == YEAR:
        birth = str(norm.get(field.column) or "")
        return birth[:4] if birth[:4].isdigit() else ""
    if how == COUNTY:
        return _county(norm.get(field.codes or ""))
    raise ValueError(f"unknown field treatment {how}")


def filter_text(date_from: dt.date, date_to: dt.date, station: str | None) -> str:
    return f"{date_from.isoformat()} 至 {date_to.isoformat()}；救助站：{station or '全部'}"


def build(session: Session, date_from: dt.date, date_to: dt.date, station: str | None, content: Content,
          now: dt.datetime | None = None) -> ExportResult:
    """The export table for the filter, holding what ``content`` says."""
    found = suspect_decisions(session, date_from, date_to, station)
    cands: dict[tuple[str, str], Candidate] = {}
    ids = sorted({d.station_record_id for d, _, _ in found})
    for i in range(0, len(ids), CHUNK):
        for c in session.scalars(sa.select(Candidate).where(Candidate.station_record_id.in_(ids[i:i + CHUNK]))):
            cands[(c.station_record_id, c.report_id)] = c
    fields = [(f, content.shows(f)) for f in FIELDS if content.shows(f) != OMIT]
    headers = ["序号", *(f.header + REDUCED_HEADERS.get(how, "") for f, how in fields), *TAIL_HEADERS]
    rows: list[list[Any]] = []
    pairs: list[tuple[str, str]] = []
    for n, (d, s, r) in enumerate(found, start=1):
        sides = {"s": (load_json(s.raw), load_json(s.normalized)), "r": (load_json(r.raw), load_json(r.normalized))}
        values: list[Any] = [n]
        for f, how in fields:
            values.append(_shown(how, *sides[f.side], f))
        c = cands.get((d.station_record_id, d.report_id))
        ev = load_json(c.evidence) if c else {}
        values += [round(float(c.score), 2) if c else "", round(float(c.probability), 4) if c else "",
                   evidence_summary(ev) if ev else "（候选已不在队列中）", d.reviewer, local_time(d.decided_at), d.note or ""]
        rows.append(values)
        pairs.append((d.station_record_id, d.report_id))
    return ExportResult(headers, rows, pairs, now or dt.datetime.now(dt.timezone.utc), filter_text(date_from, date_to, station),
                        content.title)


def preamble(result: ExportResult) -> list[list[str]]:
    return [
        [result.title],
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
        w.writerow([defuse_formula(v) for v in row])
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
        ws.append([defuse_formula(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    wide = ("发现地点", "走失地点", "户籍地址", "体貌特征", "比对依据", "标记备注", "备注（站）")
    for i, h in enumerate(result.headers, start=1):
        ws.column_dimensions[ws.cell(row=header_row, column=i).column_letter].width = 40 if h.startswith(wide) else max(10, 2 * len(h) + 2)
    wb.properties.title = result.title
    wb.properties.created = result.generated_at.replace(tzinfo=None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def file_name(result: ExportResult, fmt: str) -> str:
    stamp = result.generated_at.astimezone(CST).strftime("%Y%m%d-%H%M%S")
    return f"疑似名单_{stamp}_{len(result.rows)}条.{fmt}"
