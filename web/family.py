"""寻亲登记: a family at the door describes who they lost; the station persons are ranked against
it at once, and the description can be kept as a report (source 家属) that the nights go on
matching.

The description goes through the same path as a reports file from the inbox: written as a
one-row exchange CSV, read and normalized by :mod:`xunqin.ingest`, stored by
:func:`xunqin.store.records.add_records` (pending, so the next night matches it). The ranking
is the night's matcher (:func:`xunqin.matching.pipeline.match_prepared`) with the active model
on every open station record, the name frequencies those of the reports held (plus this one, as
when it is saved); one difference: no blocking key is skipped as too common, a single report
never makes one so.
"""

import csv
import datetime as dt
import hashlib
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.ingest.reasons import reason_text
from xunqin.store import audit_log, decisions, model_versions, records, search
from xunqin.store.models import Reunion, StationRecord

from .person import Bar, FieldRow, field_rows, load_json, waterfall

SOURCE = "家属"
TOP = 20
# form field -> (exchange column, Chinese label, longest accepted text)
FIELDS: dict[str, tuple[str, str, int]] = {
    "name": ("name", "姓名", 50), "aliases": ("aliases", "小名 / 曾用名", 100), "gender": ("gender", "性别", 4),
    "birth_date": ("birth_date", "出生年份或日期", 20), "age_at_missing": ("age_at_missing", "走失时年龄", 10),
    "hometown": ("hometown", "户籍地 / 老家", 200), "missing_place": ("missing_place", "走失地点", 200),
    "missing_date": ("missing_date", "走失日期", 20), "height_cm": ("height_cm", "身高", 20),
    "features": ("features", "体貌特征（疤痕、痣、残疾、病症等）", 1000), "id_number": ("id_number", "身份证号", 30),
    "contact_phone": ("contact_phone", "家属联系电话", 40),
}
REQUIRED = ("name", "missing_date")
EXCHANGE_COLUMNS = ("report_id", "source", *(column for column, _, _ in FIELDS.values()))


class NoModel(LookupError):
    """No model has been trained yet (no night ran)."""


@dataclass(frozen=True)
class Case:
    """A family's description as the ingest made it: raw text, normalized row, rejects."""

    report_id: str
    raw: dict[str, str]
    normalized: pd.DataFrame  # one row, or none when the row was refused
    rejects: pd.DataFrame
    csv_bytes: bytes


@dataclass(frozen=True)
class Ranked:
    station_record_id: str
    station: str | None
    name: str
    found_date: str
    rank: int
    score: float
    probability: float
    rows: list[FieldRow]
    bars: list[Bar]
    zero_at: float
    summary: str


@dataclass
class Ranking:
    shown: list[Ranked]
    hidden_elsewhere: int  # candidates at other stations (not shown to station staff)
    seconds: float
    compared: int
    timings: dict[str, float] = field(default_factory=dict)


def form_values(form: dict[str, Any]) -> dict[str, str]:
    """The form's fields, stripped and clipped; unknown fields dropped."""
    return {key: str(form.get(key) or "").strip()[:limit] for key, (_, _, limit) in FIELDS.items()}


def missing_required(values: dict[str, str]) -> list[str]:
    return [FIELDS[k][1] for k in REQUIRED if not values.get(k)]


def new_report_id(session: Session) -> str:
    """A report id no record holds: JS (家属登记) + Beijing date + six random hex digits."""
    from xunqin.store.models import Report

    from .labels import CST

    day = dt.datetime.now(CST).strftime("%Y%m%d")
    while True:
        rid = f"JS{day}-{secrets.token_hex(3).upper()}"
        if session.scalar(sa.select(Report.id).where(Report.report_id == rid)) is None:
            return rid


def read_case(values: dict[str, str], report_id: str) -> Case:
    """The description through the exchange reader and the report normalizer, as a file would go."""
    from xunqin.ingest.read import read_table
    from xunqin.ingest.tables import normalize_reports

    row = {"report_id": report_id, "source": SOURCE, **{column: values.get(key, "") for key, (column, _, _) in FIELDS.items()}}
    with tempfile.TemporaryDirectory(prefix="xunqin-family-") as tmp:
        path = Path(tmp) / f"寻亲登记-{report_id}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(EXCHANGE_COLUMNS), lineterminator="\r\n")
            writer.writeheader()
            writer.writerow(row)
        content = path.read_bytes()
        raw = read_table(path, "reports")
        normalized, rejects = normalize_reports(raw)
    return Case(report_id, {k: str(v) for k, v in row.items()}, normalized, rejects, content)


def reject_lines(case: Case) -> list[str]:
    """What the ingest could not take, in Chinese (the form shows it beside the results)."""
    from xunqin.ingest.reasons import column_text

    out = []
    for r in case.rejects.itertuples(index=False):
        column = column_text(str(r.column)) if r.column else ""
        out.append(f"{column}：{reason_text(str(r.reason))}" if column else reason_text(str(r.reason)))
    return out


def _open_station_mask(session: Session, ids: np.ndarray) -> np.ndarray:
    closed, _ = decisions.closed_ids(session)
    closed |= set(session.scalars(sa.select(Reunion.station_record_id)))
    return ~np.isin(ids.astype(str), np.array(sorted(closed), dtype=object)) if closed else np.ones(len(ids), dtype=bool)


class PreparedStations:
    """The station records prepared for matching, kept between requests of one app while no
    record version is added (preparing 10,000 records is most of a request's time); each request
    matches on a copy of the vocabulary, so requests never share what they encode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._held: tuple[np.ndarray, Any, list[str]] | None = None

    def get(self, session: Session) -> tuple[np.ndarray, Any, Any]:
        """(record ids, prepared station side, a fresh vocabulary holding the side's codes)."""
        from xunqin.matching.codes import Vocabulary
        from xunqin.matching.features import prepare_stations

        key = (records.max_row_id(session, "stations"), records.current_count(session, "stations"))
        with self._lock:
            if self._key != key or self._held is None:
                held = records.load_versions(session, "stations")
                vocab = Vocabulary()
                side = prepare_stations(held.frame, vocab)
                self._held, self._key = (held.keys, side, list(vocab.decode_table())), key
            ids, side, strings = self._held
        return ids, side, Vocabulary.from_strings(strings)


def rank_case(session: Session, case: Case, *, station: str | None, full_ids: bool, top: int = TOP,
              prepared_stations: PreparedStations | None = None) -> Ranking:
    """Every open station person against the family's description, best first (the night's
    matcher and active model); ``station`` set: only that station's persons are shown."""
    from xunqin.matching.model import Model
    from xunqin.matching.pipeline import match_prepared
    from xunqin.matching.features import Prepared, assemble, prepare_reports

    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    started = clock
    stored = model_versions.active_model(session)
    if stored is None:
        raise NoModel("还没有比对模型：夜间比对运行过一次之后才能登记比对")
    model = Model.from_dict(stored[1])
    if case.normalized.empty:
        return Ranking([], 0, 0.0, 0)
    station_ids, station_side, vocab = (prepared_stations or PreparedStations()).get(session)
    lap("stations")
    report_side = prepare_reports(case.normalized.reset_index(drop=True), vocab)
    prepared = assemble(station_side, report_side, vocab)
    lap("prepare")
    # name frequencies as the night weighs them: among the reports held, this one counted too
    n_reports = records.current_count(session, "reports") + 1
    name_codes = report_side.multi["name_all"].codes
    names = vocab.decode_table()[name_codes].tolist() if len(name_codes) else []
    counts = search.report_name_counts(session, names)
    frequency = np.zeros(len(vocab), dtype=float)
    for code, name in zip(name_codes.tolist(), names):
        frequency[code] = (counts.get(name, 0) + 1) / n_reports
    prepared = Prepared(prepared.stations, prepared.reports, vocab, frequency, 1.0 / n_reports)
    result = match_prepared(prepared, model=model, top_k=1, station_open=_open_station_mask(session, station_ids))
    lap("match")
    cands = result.candidates.sort_values(["score", "station_record_id"], ascending=[False, True], kind="stable")
    wanted = cands["station_record_id"].astype(str).tolist()
    stations_of = search.station_of_records(session, wanted)
    if station is not None:
        mine = [stations_of.get(sid) == station for sid in wanted]
        hidden = len(wanted) - sum(mine)
        cands = cands.loc[mine]
    else:
        hidden = 0
    cands = cands.head(top)
    shown = _views(session, case, cands, full_ids)
    lap("explain")
    return Ranking(shown, hidden, round(time.perf_counter() - started, 3), int(result.blocked.n_pairs), timings)


def _views(session: Session, case: Case, cands: pd.DataFrame, full_ids: bool) -> list[Ranked]:
    from .labels import evidence_summary

    ids = cands["station_record_id"].astype(str).tolist()
    found: dict[str, StationRecord] = {}
    if ids:
        for rec in session.scalars(sa.select(StationRecord).where(StationRecord.record_id.in_(ids), StationRecord.is_current)):
            found[rec.record_id] = rec
    rp_raw = dict(case.raw)
    from xunqin.store.frames import jsonable_frame

    rp_norm = jsonable_frame(case.normalized)[0]
    evidence_columns = [c for c in cands.columns if c not in ("station_record_id", "report_id", "rank", "score", "probability")]
    out = []
    for position, row in enumerate(cands.to_dict("records"), start=1):
        rec = found.get(str(row["station_record_id"]))
        if rec is None:
            continue
        st_raw, st_norm = load_json(rec.raw), load_json(rec.normalized)
        ev = {k: _plain(row[k]) for k in evidence_columns}
        bars, zero_at = waterfall(ev)
        out.append(Ranked(rec.record_id, st_norm.get("station") or st_raw.get("station"), str(st_raw.get("name") or ""),
                          str(st_raw.get("found_date") or ""), position, float(row["score"]), float(row["probability"]),
                          field_rows(st_raw, st_norm, rp_raw, rp_norm, ev, show_phone=False, full_ids=full_ids),
                          bars, zero_at, evidence_summary(ev)))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_case(session: Session, case: Case, actor: str, ip: str | None = None) -> records.FileOutcome:
    """Store the description as a report (pending: the next night matches it) with its search keys."""
    content_hash = hashlib.sha256(case.csv_bytes).hexdigest()
    raw = pd.DataFrame([{k: (v or None) for k, v in case.raw.items()}])
    outcome = records.add_records(session, kind="reports", file_name=f"寻亲登记-{case.report_id}.csv", content_hash=content_hash,
                                  raw=raw, raw_rows=pd.Series([2]), normalized=case.normalized, rejects=case.rejects, run_id=None)
    search.catch_up(session)
    audit_log.add(session, actor, "family_case_saved", entity="report", entity_id=case.report_id,
                  detail={"source_file": outcome.file_id, "rejects": outcome.rejects}, ip=ip)
    return outcome


def register(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi import HTTPException, Request
    from fastapi.responses import HTMLResponse, Response
    from starlette.concurrency import run_in_threadpool

    from xunqin.store.models import Report

    from . import auth
    from .app import DB, User
    from .pages import check_csrf, ip, need, render, sees_full_id

    prepared_stations = PreparedStations()

    def page(request: Request, user: auth.CurrentUser, code: int = 200, **ctx: Any) -> Response:
        base = {"fields": FIELDS, "values": {}, "ranking": None, "problems": [], "error": None, "saved": None,
                "report_id": "", "required": REQUIRED}
        return render(request, "family.html", user, code=code, **{**base, **ctx})

    async def form_of(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def checked(s: Session, request: Request, user: auth.CurrentUser, form: dict[str, str]) -> dict[str, str] | None:
        """The form's values after the CSRF and role checks; None when a required field is empty."""
        check_csrf(s, request, user, form.get("csrf_token"))
        need(s, request, user, auth.CAN_REVIEW)
        values = form_values(form)
        return None if missing_required(values) else values

    @app.get("/family", response_class=HTMLResponse)
    def family_form(request: Request, s: DB, user: User) -> Response:
        need(s, request, user, auth.CAN_REVIEW)
        return page(request, user)

    def rank_page(request: Request, s: Session, user: auth.CurrentUser, form: dict[str, str]) -> Response:
        values = checked(s, request, user, form)
        if values is None:
            values = form_values(form)
            return page(request, user, code=400, values=values, error=f"请填写：{'、'.join(missing_required(values))}")
        report_id = (form.get("report_id") or "")[:40] or new_report_id(s)
        if not report_id.startswith("JS"):
            raise HTTPException(400, "登记编号无效")
        case = read_case(values, report_id)
        if case.normalized.empty:
            return page(request, user, code=400, values=values, problems=reject_lines(case),
                        error="这份登记无法比对（见下方原因），请改正后再试")
        try:
            ranking = rank_case(s, case, station=user.station if user.role == "staff" else None, full_ids=False,
                                prepared_stations=prepared_stations)
        except NoModel as exc:
            return page(request, user, code=409, values=values, error=str(exc))
        audit_log.add(s, user.username, "family_match", ip=ip(request), entity="report", entity_id=report_id, detail={
            "shown": [r.station_record_id for r in ranking.shown], "hidden_elsewhere": ranking.hidden_elsewhere,
            "seconds": ranking.seconds})
        s.commit()
        return page(request, user, values=values, ranking=ranking, problems=reject_lines(case), report_id=report_id,
                    may_see_full=sees_full_id(user))

    def save_page(request: Request, s: Session, user: auth.CurrentUser, form: dict[str, str]) -> Response:
        values = checked(s, request, user, form)
        if values is None:
            values = form_values(form)
            return page(request, user, code=400, values=values, error=f"请填写：{'、'.join(missing_required(values))}")
        report_id = (form.get("report_id") or "")[:40]
        if not report_id.startswith("JS"):
            raise HTTPException(400, "请先比对，再保存")
        if s.scalar(sa.select(Report.id).where(Report.report_id == report_id)) is not None:
            return page(request, user, code=409, values=values, saved=report_id, report_id=report_id,
                        error=f"登记编号 {report_id} 已保存过")
        case = read_case(values, report_id)
        if case.normalized.empty:
            return page(request, user, code=400, values=values, problems=reject_lines(case), error="这份登记无法保存（见下方原因）")
        save_case(s, case, user.username, ip(request))
        s.commit()
        return page(request, user, values={}, saved=report_id, problems=reject_lines(case))

    # The form is read on the event loop; matching and storing run in the thread pool.
    @app.post("/family", response_class=HTMLResponse)
    async def family_rank(request: Request, s: DB, user: User) -> Response:
        return await run_in_threadpool(rank_page, request, s, user, await form_of(request))

    @app.post("/family/save", response_class=HTMLResponse)
    async def family_save(request: Request, s: DB, user: User) -> Response:
        return await run_in_threadpool(save_page, request, s, user, await form_of(request))
