"""Uploads: a station export (staff) and a report list (reviewers) go the inbox's way; the page
gives rows in / taken / refused and every rejected value with its Chinese reason, IDs masked."""

from __future__ import annotations

import csv
import io
import json
import re
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.store import db, search
from xunqin.store.models import Upload, utcnow

STATION_COLUMNS = ["record_id", "station", "name", "gender", "estimated_age", "found_date", "found_place", "hometown",
                   "dialect", "height_cm", "features", "id_number", "notes"]


def _bad_check_digit(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def _valid_id(world: dict) -> str:
    with db.engine(world["url"]).connect() as con:
        for (raw,) in con.execute(sa.text("SELECT raw FROM reports WHERE is_current")):
            number = json.loads(raw).get("id_number")
            if number and len(number) == 18:
                return number
    raise AssertionError("no ID number in the sample")


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return buf.getvalue().encode("utf-8")


def _upload(client, name: str, body: bytes, kind: str | None = None):  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/upload").text).group(1)
    data = {"csrf_token": token, **({"kind": kind} if kind else {})}
    return client.post("/upload", data=data, files={"file": (name, body, "text/csv")})


def _finished(client, response, timeout: float = 60):  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text[:500]
    where = response.headers["location"]
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(where)
        status = re.search(r'data-status="(\w+)"', page.text).group(1)
        if status in ("done", "refused", "failed"):
            return status, page
        assert time.monotonic() < deadline, "upload never finished"
        assert 'http-equiv="refresh"' in page.text  # the page refreshes itself while the file is read
        time.sleep(0.2)


def _figure(html: str, name: str) -> int:
    return int(re.search(rf'id="{name}">(\d+)<', html).group(1))


def _station_export(world: dict) -> tuple[bytes, dict]:
    good_id = _valid_id(world)
    base = {"estimated_age": "约60岁", "found_date": "2025-03-01", "found_place": "商丘市梁园区火车站", "hometown": "河南周口"}
    rows = [
        {**base, "record_id": "UP001", "station": world["station_a"], "name": "欧阳明远", "gender": "男"},
        {**base, "record_id": "UP002", "station": world["station_a"], "name": "司马青", "gender": "X"},
        {**base, "record_id": "UP003", "station": world["station_a"], "name": "上官红", "gender": "女", "id_number": _bad_check_digit(good_id)},
        {**base, "record_id": "UP004", "station": world["station_b"], "name": "诸葛亮亮", "gender": "男"},
        {**base, "record_id": "UP005", "station": "长春救助站", "name": "令狐冲冲", "gender": "男"},
        {**base, "record_id": "", "station": world["station_a"], "name": "无编号", "gender": "男"},
    ]
    return _csv(rows, STATION_COLUMNS), {"bad_id": _bad_check_digit(good_id)}


def test_a_station_export_shows_taken_refused_and_every_reject_in_chinese(as_user, world) -> None:  # type: ignore[no-untyped-def]
    body, info = _station_export(world)
    staff = as_user("staff_a")
    status, page = _finished(staff, _upload(staff, "本站导出.csv", body))
    html = page.text
    assert status == "done"
    assert (_figure(html, "rows-in"), _figure(html, "rows-taken"), _figure(html, "rows-refused")) == (6, 3, 3)
    assert _figure(html, "values-rejected") == 2
    for reason in ("性别无法识别", "身份证号校验位不对", "不是您所在救助站的记录：整行未收", "救助站不在救助站名单中：整行未收", "编号为空：整行未收"):
        assert reason in html, reason
    masked = info["bad_id"][:6] + "*" * 8 + info["bad_id"][-4:]
    assert masked in html and info["bad_id"] not in html
    assert "unreadable gender" not in html and "check digit" not in html  # no English codes
    with db.sessions(world["url"])() as s:
        taken = set(s.scalars(sa.text("SELECT record_id FROM station_records WHERE record_id LIKE 'UP%' AND is_current")))
        assert taken == {"UP001", "UP002", "UP003"}
        assert search.lag(s) == 0
        assert [h.record_id for h in search.find(s, search.Query(name="欧阳明远")).hits] == ["UP001"]
        audit = s.execute(sa.text("SELECT actor, detail FROM audit_log WHERE action = 'upload'")).all()
    assert audit[0][0] == "staff_a" and json.loads(audit[0][1])["taken"] == 3


def test_the_rejects_download_is_chinese_and_masked(as_user, world) -> None:  # type: ignore[no-untyped-def]
    body, info = _station_export(world)
    staff = as_user("staff_a")
    _, page = _finished(staff, _upload(staff, "本站导出.csv", body))
    link = re.search(r'href="(/upload/[^"]+/rejects\.csv)"', page.text).group(1)
    r = staff.get(link)
    text = r.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["行", "列", "内容", "原因", "处理"] and len(rows) == 5
    assert info["bad_id"] not in text and info["bad_id"][:6] + "*" * 8 in text
    assert "rejects.csv" in r.headers["content-disposition"]


def test_a_reviewer_uploads_a_report_list(as_user, world) -> None:  # type: ignore[no-untyped-def]
    columns = ["report_id", "source", "name", "gender", "birth_date", "missing_date", "missing_place", "hometown", "contact_phone"]
    body = _csv([{"report_id": "UPR01", "source": "寻亲平台", "name": "慕容复兴", "gender": "男", "birth_date": "1970",
                  "missing_date": "2020-05-01", "hometown": "河南省周口市商水县", "contact_phone": "13800001111"},
                 {"report_id": "UPR02", "source": "公安", "name": "段誉誉", "birth_date": "1970年13月", "missing_date": "2021-01-01"}],
                columns)
    reviewer = as_user("reviewer")
    status, page = _finished(reviewer, _upload(reviewer, "寻人名单.csv", body))
    assert status == "done" and (_figure(page.text, "rows-in"), _figure(page.text, "rows-taken")) == (2, 2)
    assert "月份不对" in page.text
    with db.sessions(world["url"])() as s:
        assert [h.record_id for h in search.find(s, search.Query(name="慕容复兴")).hits if h.level == 0] == ["UPR01"]


def test_staff_cannot_upload_reports_and_police_cannot_upload_here(as_user, world) -> None:  # type: ignore[no-untyped-def]
    body, _ = _station_export(world)
    staff = as_user("staff_a")
    r = _upload(staff, "x.csv", body, kind="reports")  # the kind a staff member may send is stations
    status, page = _finished(staff, r)
    assert status == "done" and "救助站记录（站内导出）" in page.text
    assert as_user("police").get("/upload").status_code == 403


@pytest.mark.parametrize("name, body, message", [
    ("缺列.csv", "record_id,station,name\nA1,商丘市救助管理站,张三\n".encode(), "缺少必填的列（救助日期 / found_date）"),
    ("乱码.csv", b"\xff\xfe" + "编号".encode("utf-16-le"), "UTF-16"),
    ("空表头.csv", "a,b,c\n1,2,3\n".encode(), "找不到表头"),
])
def test_a_refused_file_says_why_in_chinese(as_user, name, body, message) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a")
    status, page = _finished(staff, _upload(staff, name, body))
    assert status == "refused" and message in page.text


@pytest.mark.parametrize("name, body, status, message", [
    ("a.pdf", b"%PDF-1.4", 400, "只收 CSV 或 XLSX"),
    ("a.csv", b"", 400, "文件是空的"),
])
def test_wrong_files_are_refused_at_once(as_user, name, body, status, message) -> None:  # type: ignore[no-untyped-def]
    r = _upload(as_user("staff_a"), name, body)
    assert r.status_code == status and message in r.text


def test_the_same_file_twice_is_taken_once(as_user, world) -> None:  # type: ignore[no-untyped-def]
    body, _ = _station_export(world)
    staff = as_user("staff_a")
    _finished(staff, _upload(staff, "本站导出.csv", body))
    status, page = _finished(staff, _upload(staff, "再传一次.csv", body))
    assert status == "done" and "以前已经收过" in page.text and _figure(page.text, "rows-refused") == 3
    with db.engine(world["url"]).connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM source_files WHERE file_name = '本站导出.csv'")).scalar() == 1


def test_the_progress_page_refreshes_while_a_file_is_read(as_user, world) -> None:  # type: ignore[no-untyped-def]
    with db.sessions(world["url"]).begin() as s:
        s.add(Upload(token="t-reading", username="staff_a", kind="stations", file_name="大文件.csv", size_bytes=50 << 20,
                     status="reading", rows_in=0, rows_taken=0, rows_refused=0, values_rejected=0, warnings=0, created_at=utcnow()))
    page = as_user("staff_a").get("/upload/t-reading").text
    assert 'http-equiv="refresh"' in page and "正在读取文件" in page and "<progress" in page
    assert as_user("staff_b").get("/upload/t-reading").status_code == 404  # someone else's upload


def test_the_police_results_upload_goes_through_the_police_import(as_user, world) -> None:  # type: ignore[no-untyped-def]
    with db.engine(world["url"]).connect() as con:
        report = con.execute(sa.text("SELECT report_id FROM candidates WHERE station_record_id = :p ORDER BY rank LIMIT 1"),
                             {"p": world["person_a"]}).scalar()
    body = ("受助人员编号,寻人启事编号,核查结果,核查方式,核查日期\n"
            f"{world['person_a']},{report},比中,DNA,2026-11-20\n"
            f"S999999,{report},比中,DNA,2026-11-20\n"
            f"{world['person_a']},{report},大概是吧,,\n").encode("utf-8")
    police = as_user("police")
    page = police.get("/upload/police")
    assert page.status_code == 200 and "核查结果" in page.text and "尚未接通" not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = police.post("/upload/police", data={"csrf_token": token}, files={"file": ("核查结果.csv", body, "text/csv")})
    assert r.status_code == 200, r.text[:400]
    assert (_figure(r.text, "police-rows"), _figure(r.text, "police-taken"), _figure(r.text, "police-not-taken")) == (3, 1, 2)
    assert "核查结果无法识别" in r.text
    with db.engine(world["url"]).connect() as con:
        home = con.execute(sa.text("SELECT report_id FROM reunions WHERE station_record_id = :p"), {"p": world["person_a"]}).scalar()
    assert home == report
    again = police.post("/upload/police", data={"csrf_token": token}, files={"file": ("核查结果.csv", body, "text/csv")})
    assert "以前已经导入过" in again.text
    bad = police.post("/upload/police", data={"csrf_token": token}, files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    assert bad.status_code == 400 and "找不到表头" in bad.text
    assert as_user("staff_a").get("/upload/police").status_code == 403


def test_refuse_rows_by_station() -> None:
    from xunqin.web.upload import refuse_rows_by_station

    normalized = pd.DataFrame({"source_row": [2, 3, 4], "record_id": ["a", "b", "c"], "station": ["甲站", "乙站", "丙站"]})
    rejects = pd.DataFrame(columns=["file", "row", "column", "value", "reason", "reason_zh", "severity"])
    kept, out = refuse_rows_by_station(normalized, rejects, ["甲站", "乙站"], "甲站", "f.csv")
    assert kept["record_id"].tolist() == ["a"]
    assert out[["row", "severity"]].values.tolist() == [[3, "refused"], [4, "refused"]]
    assert out["reason_zh"].str.contains("整行未收").all()
    kept, out = refuse_rows_by_station(normalized, rejects, ["甲站", "乙站"], None, "f.csv")  # a reviewer or admin
    assert kept["record_id"].tolist() == ["a", "b"] and out["row"].tolist() == [4]
