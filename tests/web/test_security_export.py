"""Exports carry what their recipient needs: the police liaison's file everything verification
needs, the reviewers' and administrators' file no phone, masked ID numbers, places to the county;
no cell of either runs as a formula in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import openpyxl
import pytest
import sqlalchemy as sa

from xunqin.ingest.spreadsheet import defuse_formula
from xunqin.store import db
from xunqin.web import export

STATION_ID = "410423199003071234"
REPORT_ID = "130432195602021228"
PHONE = "17000002084"
REPORT_HOME = "河北省邯郸市广平县东风乡梁屯村12组"
FOUND_AT = "河南省商丘市睢县青山镇桥洞下"
NOTES = "家属王秀英电话13900001111"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture()
def suspect_pair(as_user, world):  # type: ignore[no-untyped-def]
    """Person A's best candidate marked 疑似, both records given an ID number, a full address,
    a phone and notes (as a station and a family would write them)."""
    staff = as_user("staff_a")
    page = staff.get(f"/person/{world['person_a']}").text
    report = re.findall(r'name="report_id" value="([^"]+)"', page)[0]
    r = staff.post(f"/person/{world['person_a']}/decision", data={"csrf_token": _csrf(page), "report_id": report, "decision": "疑似"})
    assert r.status_code == 303
    with db.sessions(world["url"]).begin() as s:
        for table, key, value, extra, norm in (
            ("station_records", "record_id", world["person_a"], {"id_number": STATION_ID, "found_place": FOUND_AT, "notes": NOTES},
             {"found_codes": "411422"}),
            ("reports", "report_id", report, {"id_number": REPORT_ID, "contact_phone": PHONE, "hometown": REPORT_HOME,
                                              "birth_date": "1956-02-02"},
             {"hometown_codes": "130432", "birth_date": "1956-02-02"}),
        ):
            raw_text, norm_text = s.execute(sa.text(f"SELECT raw, normalized FROM {table} WHERE {key} = :k AND is_current"),
                                            {"k": value}).one()
            raw, normalized = json.loads(raw_text), json.loads(norm_text)
            raw.update(extra)
            normalized.update(norm)
            s.execute(sa.text(f"UPDATE {table} SET raw = :r, normalized = :n WHERE {key} = :k AND is_current"),
                      {"r": json.dumps(raw, ensure_ascii=False), "n": json.dumps(normalized, ensure_ascii=False), "k": value})
    return report


def _download(client, fmt: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    r = client.post("/export/download", data={"csrf_token": _csrf(client.get("/export").text), "fmt": fmt})
    assert r.status_code == 200
    if fmt == "csv":
        return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]


def _record(rows: list[list[str]]) -> dict[str, str]:
    at = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    assert len(rows) == at + 2
    return dict(zip(rows[at], rows[at + 1]))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_police_file_holds_what_verification_needs(as_user, suspect_pair, world, fmt) -> None:  # type: ignore[no-untyped-def]
    rows = _download(as_user("police"), fmt)
    assert rows[0][0] == "寻亲比对疑似名单（供公安核查）"
    rec = _record(rows)
    assert (rec["身份证号（站）"], rec["身份证号（寻人）"], rec["家属联系电话"]) == (STATION_ID, REPORT_ID, PHONE)
    assert (rec["发现地点"], rec["户籍地址"], rec["出生日期"], rec["备注（站）"]) == (FOUND_AT, REPORT_HOME, "1956-02-02", NOTES)


@pytest.mark.parametrize("role", ["reviewer", "admin"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_reviewers_file_holds_no_phone_masked_ids_and_places_to_the_county(as_user, suspect_pair, world, role, fmt) -> None:  # type: ignore[no-untyped-def]
    rows = _download(as_user(role), fmt)
    assert rows[0][0] == "寻亲比对疑似名单（省级跟踪）"
    rec = _record(rows)
    assert "家属联系电话" not in rec and "备注（站）" not in rec
    assert (rec["身份证号（站）（部分隐藏）"], rec["身份证号（寻人）（部分隐藏）"]) == ("410423********1234", "130432********1228")
    assert rec["发现地点（到县）"] == "河南省商丘市睢县"
    assert rec["户籍地址（到县）"] == "河北省邯郸市广平县"
    assert rec["出生日期（年份）"] == "1956"
    # What the match rests on stays.
    assert (rec["站内编号"], rec["寻人编号"]) == (world["person_a"], suspect_pair) and rec["站内登记姓名"] and rec["比对依据"]
    text = "\n".join(",".join(r) for r in rows)
    for secret in (STATION_ID, REPORT_ID, PHONE, "梁屯村", "桥洞下", "王秀英", "13900001111"):
        assert secret not in text


def test_the_export_page_says_what_the_file_holds_and_the_audit_says_which_file(as_user, suspect_pair, world) -> None:  # type: ignore[no-untyped-def]
    assert "身份证号部分隐藏" in as_user("reviewer").get("/export").text
    assert "完整身份证号" in as_user("police").get("/export").text
    for role in ("police", "reviewer"):
        _download(as_user(role), "csv")
    with db.engine(world["url"]).connect() as con:
        rows = con.execute(sa.text("SELECT actor, detail FROM audit_log WHERE action = 'export' ORDER BY id")).all()
    details = {a: json.loads(d) if isinstance(d, str) else d for a, d in rows}
    assert (details["police"]["content"], details["police"]["with_phone"]) == ("police", True)
    assert (details["reviewer"]["content"], details["reviewer"]["with_phone"]) == ("review", False)


# (cell, as the export writes it)
FORMULA_CASES = [
    ("=1+1", "'=1+1"), ("+8613800001111", "'+8613800001111"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    (" =HYPERLINK(\"http://x\")", "' =HYPERLINK(\"http://x\")"), ("\n=1+1", "'\n=1+1"), ("\t=1", "'\t=1"), ("\r@x", "'\r@x"),
    ("\u3000=1", "'\u3000=1"), ("\xa0+1", "'\xa0+1"),
    ("＝1+1", "'＝1+1"), ("＋1", "'＋1"), ("－1", "'－1"), ("＠A1", "'＠A1"), ("﹦1", "'﹦1"), ("﹢1", "'﹢1"),
    ("\u200b=1+1", "'\u200b=1+1"), ("\u2060=1", "'\u2060=1"), ("\ufeff=1", "'\ufeff=1"), ("\u00ad=1", "'\u00ad=1"),
    ("\u202e=1", "'\u202e=1"), ("\u2067=1", "'\u2067=1"), ("\u200f\u200b ＝1", "'\u200f\u200b ＝1"),
    ("男=女", "男=女"), ("165cm", "165cm"), ("左眉有疤", "左眉有疤"), ("", ""), ("'=1", "'=1"), (5, 5), (-1.5, -1.5),
]


@pytest.mark.parametrize("value, safe", FORMULA_CASES)
def test_defuse_formula(value, safe) -> None:  # type: ignore[no-untyped-def]
    assert defuse_formula(value) == safe


def test_every_cell_of_both_formats_is_defused() -> None:
    values = [v for v, _ in FORMULA_CASES if isinstance(v, str)]
    result = export.ExportResult(headers=["序号", *(f"列{i}" for i in range(len(values)))], rows=[[1, *values]], pairs=[("S", "R")],
                                 generated_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), filter_text="x", title="t")
    expected = ["1", *(str(defuse_formula(v)) for v in values)]
    lines = list(csv.reader(io.StringIO(export.to_csv(result).decode("utf-8-sig"))))
    assert lines[-1] == expected
    ws = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(result))).active
    last = [c for c in list(ws.iter_rows())[-1]]
    # (XML turns a lone CR into a line feed.)
    assert [("" if c.value is None else str(c.value)) for c in last] == [v.replace("\r", "\n") for v in expected]
    assert all(c.data_type == "s" for c in last[1:] if c.value)  # text, never a formula


def test_a_note_with_an_invisible_character_before_a_formula_is_defused_in_the_export(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a")
    page = staff.get(f"/person/{world['person_a']}").text
    report = re.findall(r'name="report_id" value="([^"]+)"', page)[0]
    note = "\u200b=HYPERLINK(\"http://evil.example\",\"点我\")"
    staff.post(f"/person/{world['person_a']}/decision", data={"csrf_token": _csrf(page), "report_id": report, "decision": "疑似",
                                                               "note": note})
    for fmt in ("xlsx", "csv"):
        assert _record(_download(as_user("police"), fmt))["标记备注"] == "'" + note
