"""Queue, person page, decisions, export and audit through the app (TestClient on sample data)."""

from __future__ import annotations

import csv
import io
import json
import logging
import re

import openpyxl
import pytest
import sqlalchemy as sa

from xunqin.store import db
from xunqin.web import queue


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _reports_on_page(html: str) -> list[str]:
    return re.findall(r'name="report_id" value="([^"]+)"', html)


def _decide(client, person: str, report: str, decision: str, note: str = ""):  # type: ignore[no-untyped-def]
    page = client.get(f"/person/{person}")
    return client.post(f"/person/{person}/decision", data={"csrf_token": _csrf(page.text), "report_id": report,
                                                            "decision": decision, "note": note})


def _queue_rows(html: str) -> list[tuple[str, float, str]]:
    rows = re.findall(r'<a href="/person/([^"]+)">.*?<td class="score">([-\d.]+)</td><td class="score">\d+%</td>\s*'
                      r'<td><span class="status status-(\S+)">', html, flags=re.S)
    return [(pid, float(score), status) for pid, score, status in rows]


def _walk(client, params: dict) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    out, number = [], 1
    for _ in range(100):
        r = client.get("/queue", params={**params, "page": number})
        assert r.status_code == 200
        out += _queue_rows(r.text)
        m = re.search(r'page=(\d+)">下一页', r.text)
        if not m:
            return out
        assert int(m.group(1)) == number + 1 and f"第 {number} / " in r.text
        number += 1
    raise AssertionError("pagination does not end")


def test_queue_pages_through_every_person_once_best_first(as_user, world) -> None:  # type: ignore[no-untyped-def]
    rows = _walk(as_user("reviewer"), {})
    ids = [r[0] for r in rows]
    with db.engine(world["url"]).connect() as con:
        expected = {r for (r,) in con.execute(sa.text("SELECT DISTINCT station_record_id FROM candidates"))}
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    scores = [r[1] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert len(rows) > queue.PAGE_SIZE  # more than one page was walked


@pytest.mark.parametrize("params, column, allowed", [
    ({"gender": "女"}, "gender", {"女"}),
    ({"gender": "男"}, "gender", {"男"}),
    ({"age": "60-79"}, "age_band", {"60-79"}),
    ({"age": "0-17"}, "age_band", {"0-17"}),
    ({"age": "未知"}, "age_band", {"未知"}),
    ({"status": "未审"}, "status", {"未审"}),
    ({"gender": "男", "age": "80+"}, None, None),
])
def test_queue_filters_keep_only_matching_persons(as_user, world, params, column, allowed) -> None:  # type: ignore[no-untyped-def]
    rows = _walk(as_user("reviewer"), params)
    with db.engine(world["url"]).connect() as con:
        table = {r[0]: r for r in con.execute(sa.text("SELECT station_record_id, gender, age_band, status FROM web_queue"))}
    where = {k: v for k, v in params.items()}
    expect = {pid for pid, g, a, s in table.values()
              if where.get("gender", g) == g and where.get("age", a) == a and where.get("status", s) == s}
    assert {r[0] for r in rows} == expect
    if column:
        assert expect, "filter case selects nobody in the sample"


@pytest.mark.parametrize("params", [{"gender": "X"}, {"age": "200+"}, {"status": "<script>"}, {"gender": "男" * 500}])
def test_unknown_filter_values_are_a_chinese_400(as_user, params) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get("/queue", params=params)
    assert r.status_code == 400 and "请求有误" in r.text and "<script>" not in r.text


@pytest.mark.parametrize("number", ["garbage", "0", "-1", "1.5", "10001", "9" * 40])
def test_a_bad_page_number_is_a_400(as_user, number) -> None:  # type: ignore[no-untyped-def]
    assert as_user("reviewer").get("/queue", params={"page": number}).status_code == 400


def test_a_page_past_the_end_shows_the_last_page(as_user) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get("/queue", params={"page": 999})
    last = re.search(r"第 (\d+) / (\d+) 页", r.text)
    assert r.status_code == 200 and last and last.group(1) == last.group(2) and _queue_rows(r.text)


def test_person_page_sets_station_record_beside_reports_with_marks_and_waterfall(as_user, world) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get(f"/person/{world['person_a']}")
    assert r.status_code == 200
    html = r.text
    sections = html.count('class="cand"')
    with db.engine(world["url"]).connect() as con:
        n = con.execute(sa.text("SELECT count(*) FROM candidates WHERE station_record_id = :p"), {"p": world["person_a"]}).scalar()
        ev = json.loads(con.execute(sa.text("SELECT evidence FROM candidates WHERE station_record_id = :p AND rank = 1"),
                                    {"p": world["person_a"]}).scalar())
    assert sections == n
    for label in ("姓名", "性别", "年龄", "籍贯 / 户籍", "发现 / 走失地点", "体貌特征", "身份证号"):
        assert f"<th>{label}</th>" in html
    # The best candidate of the best person agrees on several fields.
    first = html.split('class="cand"')[1]
    assert first.count('<tr class="agree">') >= 3
    # Waterfall: prior + one bar per comparison + total.
    comparisons = [k for k in ev if k.endswith("_weight") and k != "prior_weight"]
    assert first.count('class="row"') == len(comparisons) + 2
    # Reviewers do not see family phones.
    assert "仅公安联络员可见" in html or "家属电话</th><td></td><td></td>" in html
    assert not re.search(r"1[3-9]\d{9}", html.split("家属电话")[1][:200])


def test_a_decision_is_stored_shown_and_seen_by_the_other_reviewer(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff, reviewer = as_user("staff_a"), as_user("reviewer")
    person = world["person_a"]
    report = _reports_on_page(staff.get(f"/person/{person}").text)[0]
    r = _decide(staff, person, report, "疑似", "左眉疤痕吻合")
    assert r.status_code == 303 and r.headers["location"].startswith(f"/person/{person}?saved=")
    r = _decide(reviewer, person, report, "待定", "需核实年龄")
    page = staff.get(f"/person/{person}").text  # reload: both decisions, newest first
    hist = page.split("标记记录")[1]
    assert hist.index("需核实年龄") < hist.index("左眉疤痕吻合")
    assert "reviewer" in hist and "staff_a" in hist
    assert re.search(r'当前标记：<span class="status status-待定">待定</span>\s*<span class="muted">reviewer', page)
    with db.engine(world["url"]).connect() as con:
        rows = con.execute(sa.text("SELECT decision, reviewer, note FROM decisions ORDER BY id")).all()
        entry = con.execute(sa.text("SELECT status, n_pending FROM web_queue WHERE station_record_id = :p"), {"p": person}).one()
    assert [tuple(r) for r in rows] == [("疑似", "staff_a", "左眉疤痕吻合"), ("待定", "reviewer", "需核实年龄")]
    assert tuple(entry) == ("待定", 1)  # the queue index follows the decision at once


def test_excluding_a_candidate_takes_it_off_the_page(as_user, world) -> None:  # type: ignore[no-untyped-def]
    c = as_user("staff_a")
    person = world["person_a"]
    reports = _reports_on_page(c.get(f"/person/{person}").text)
    assert _decide(c, person, reports[-1], "排除").status_code == 303
    assert reports[-1] not in _reports_on_page(c.get(f"/person/{person}").text)
    assert _decide(c, person, reports[-1], "疑似").status_code == 404  # no longer a candidate


@pytest.mark.parametrize("decision, note, status", [
    ("确认", "", 400),  # not a reviewer's choice on this page
    ("", "", 400),
    ("疑似 ", "", 400),
    ("<b>", "", 400),
    ("疑似", "很" * 501, 400),
    ("疑似", "很" * 500, 303),
    ("待定", "  ", 303),
])
def test_decision_input_is_checked(as_user, world, decision, note, status) -> None:  # type: ignore[no-untyped-def]
    c = as_user("reviewer")
    report = _reports_on_page(c.get(f"/person/{world['person_a']}").text)[0]
    assert _decide(c, world["person_a"], report, decision, note).status_code == status


def test_notes_are_escaped_on_the_page(as_user, world) -> None:  # type: ignore[no-untyped-def]
    c = as_user("reviewer")
    report = _reports_on_page(c.get(f"/person/{world['person_a']}").text)[0]
    _decide(c, world["person_a"], report, "待定", "<script>alert(1)</script>")
    page = c.get(f"/person/{world['person_a']}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def _export(client, fmt: str, **filters):  # type: ignore[no-untyped-def]
    page = client.get("/export", params=filters)
    return client.post("/export/download", data={"csrf_token": _csrf(page.text), "fmt": fmt, **filters})


def _xlsx_table(body: bytes) -> tuple[dict[str, str], list[str], list[dict]]:
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = list(ws.iter_rows(values_only=True))
    meta = {r[0]: r[1] for r in rows[:4] if r and r[0]}
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    headers = list(rows[header_at])
    data = [dict(zip(headers, r)) for r in rows[header_at + 1:]]
    return meta, headers, data


def test_export_holds_the_suspect_pairs_with_phone_for_police_only(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a")
    person = world["person_a"]
    reports = _reports_on_page(staff.get(f"/person/{person}").text)
    with db.engine(world["url"]).connect() as con:  # put a report with a family phone first
        phones = {r: json.loads(raw).get("contact_phone") for r, raw in con.execute(
            sa.text("SELECT report_id, raw FROM reports WHERE is_current"))}
    reports.sort(key=lambda r: not phones.get(r))
    assert phones.get(reports[0]), "sample person without a report carrying a phone"
    _decide(staff, person, reports[0], "疑似", "=HYPERLINK(\"x\")")
    _decide(staff, person, reports[1], "待定")  # not exported
    police = as_user("police")
    r = _export(police, "xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    meta, headers, data = _xlsx_table(r.content)
    assert meta["记录数"] == "1" and "北京时间" in meta["生成时间"]
    assert "家属联系电话" in headers and "比对依据" in headers and ws_sheets(r.content) == 1
    row = data[0]
    assert (row["站内编号"], row["寻人编号"], row["标记人"]) == (person, reports[0], "staff_a")
    assert row["标记备注"].startswith("'=")  # stored as text, never a formula
    assert "姓名" in row["比对依据"]
    with db.engine(world["url"]).connect() as con:
        phone = json.loads(con.execute(sa.text("SELECT raw FROM reports WHERE report_id = :r AND is_current"),
                                       {"r": reports[0]}).scalar()).get("contact_phone") or ""
        audit = con.execute(sa.text("SELECT actor, detail FROM audit_log WHERE action = 'export'")).all()
    assert (row["家属联系电话"] or "") == phone
    # The reviewer's file has no phone column; CSV carries the same count.
    r = _export(as_user("reviewer"), "csv")
    text = r.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[2] == ["记录数", "1"] and "家属联系电话" not in lines[5] and lines[6][1:3] == [world["station_a"], person]
    assert phone and phone not in text
    # Each export is in the audit log with who and which pairs.
    assert [a for a, _ in audit] == ["police"]
    detail = json.loads(audit[0][1]) if isinstance(audit[0][1], str) else audit[0][1]
    assert detail["pairs"] == [f"{person}|{reports[0]}"] and detail["count"] == 1 and detail["with_phone"] is True


def ws_sheets(body: bytes) -> int:
    return len(openpyxl.load_workbook(io.BytesIO(body)).sheetnames)


@pytest.mark.parametrize("filters, count", [
    ({}, 1),
    ({"date_from": "2000-01-01", "date_to": "2001-01-01"}, 0),
    ({"station": "不存在的救助站"}, 0),
    ({"station": "商丘市救助管理站"}, 1),
])
def test_export_filters_by_date_and_station(as_user, world, filters, count) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a")
    report = _reports_on_page(staff.get(f"/person/{world['person_a']}").text)[0]
    _decide(staff, world["person_a"], report, "疑似")
    meta, _, data = _xlsx_table(_export(as_user("police"), "xlsx", **filters).content)
    assert meta["记录数"] == str(count) and len(data) == count


@pytest.mark.parametrize("filters", [{"date_from": "2024-13-01"}, {"date_from": "2025-01-02", "date_to": "2025-01-01"},
                                     {"date_from": "1990-01-01", "date_to": "2025-01-01"}])
def test_export_rejects_bad_ranges(as_user, filters) -> None:  # type: ignore[no-untyped-def]
    assert as_user("police").get("/export", params=filters).status_code == 400


def test_export_needs_csrf_and_a_known_format(as_user) -> None:  # type: ignore[no-untyped-def]
    police = as_user("police")
    assert police.post("/export/download", data={"fmt": "xlsx"}).status_code == 403
    token = _csrf(police.get("/export").text)
    assert police.post("/export/download", data={"fmt": "pdf", "csrf_token": token}).status_code == 400


def test_audit_page_lists_logins_views_decisions_and_exports(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a")
    report = _reports_on_page(staff.get(f"/person/{world['person_a']}").text)[0]
    _decide(staff, world["person_a"], report, "疑似")
    _export(as_user("police"), "csv")
    page = as_user("admin").get("/audit").text
    for action in ("登录", "查看受助人员", "标记候选", "导出核查名单"):
        assert f"<td>{action}</td>" in page
    only = as_user("admin").get("/audit", params={"action": "decision"}).text
    assert "<td>标记候选</td>" in only and "<td>查看受助人员</td>" not in only


def test_no_personal_data_reaches_the_logs(as_user, world, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    staff = as_user("staff_a")
    page = staff.get(f"/person/{world['person_a']}").text
    _decide(staff, world["person_a"], _reports_on_page(page)[0], "疑似", "家属说有胎记")
    _export(as_user("police"), "xlsx")
    with db.engine(world["url"]).connect() as con:
        raw = json.loads(con.execute(sa.text("SELECT raw FROM station_records WHERE record_id = :p"), {"p": world["person_a"]}).scalar())
    secrets = [v for k, v in raw.items() if k in ("name", "id_number", "found_place") and v] + ["家属说有胎记"]
    assert secrets
    for s in secrets:
        assert s not in caplog.text
