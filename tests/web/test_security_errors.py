"""Wrong input and errors: every parameter checked into range with a Chinese 400, Chinese error
pages for every status (never the framework's English JSON), nothing of the request or of a
traceback in an answer or the log, and one answer for "not yours" and "not there"."""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa

from xunqin.store import db

FAR = [("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02"), ("0001-01-01", ""), ("", "9999-12-31"),
       ("1899-12-31", "1900-01-02"), ("2101-01-01", "2101-01-02")]


def _chinese_page(r, status: int) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text and '{"detail"' not in r.text
    for english in ("Not Found", "Method Not Allowed", "Internal Server Error", "Bad Request", "Traceback", "Exception"):
        assert english not in r.text


@pytest.mark.parametrize("date_from, date_to", FAR)
def test_far_dates_are_a_chinese_400_on_the_export_page_and_the_download(as_user, caplog, date_from, date_to) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    police = as_user("police")
    r = police.get("/export", params={"date_from": date_from, "date_to": date_to})
    _chinese_page(r, 400)
    assert "1900 年至 2100 年之间" in r.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', police.get("/export").text).group(1)
    r = police.post("/export/download", data={"csrf_token": token, "fmt": "csv", "date_from": date_from, "date_to": date_to})
    _chinese_page(r, 400)
    assert "Traceback" not in caplog.text and not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


@pytest.mark.parametrize("before", ["1180591620717411303424", str(2**63), "-1", "abc", "1e3", "9" * 400])
def test_an_audit_page_position_out_of_range_is_a_chinese_400(as_user, before) -> None:  # type: ignore[no-untyped-def]
    r = as_user("admin").get("/audit", params={"before": before})
    _chinese_page(r, 400)
    assert "翻页位置" in r.text


@pytest.mark.parametrize("path, params, word", [
    ("/queue", {"gender": "X"}, "性别"),
    ("/queue", {"age": "200+"}, "年龄段"),
    ("/queue", {"status": "确认"}, "状态"),
    ("/queue", {"station": "站" * 201}, "救助站"),
    ("/queue", {"page": "0"}, "页码"),  # page numbers (the keyset cursor is gone)
    ("/export", {"date_from": "2024-02-30"}, "开始日期"),
    ("/export", {"date_to": "31/01/2025"}, "结束日期"),
    ("/export", {"station": "站" * 201}, "救助站"),
    ("/audit", {"action": "drop_table"}, "操作"),
    ("/audit", {"actor": "x" * 101}, "用户"),
    ("/login", {"next": "/" + "a" * 2001}, "跳转地址"),
    ("/person/{person}", {"saved": "R" * 201}, ""),
])
def test_query_parameters_out_of_range_are_a_chinese_400(as_user, world, path, params, word) -> None:  # type: ignore[no-untyped-def]
    r = as_user("admin").get(path.format(person=world["person_a"]), params=params)
    _chinese_page(r, 400)
    assert "请求有误" in r.text and word in r.text


@pytest.mark.parametrize("form, word", [
    ({"fmt": "pdf"}, "格式"),
    ({"fmt": "csv", "date_from": "2025-13-01"}, "开始日期"),
    ({"fmt": "csv", "date_from": "2025-01-01", "date_to": "9999-12-31"}, "2100"),
    ({"fmt": "csv", "station": "站" * 201}, "救助站"),
])
def test_form_fields_out_of_range_are_a_chinese_400(as_user, form, word) -> None:  # type: ignore[no-untyped-def]
    reviewer = as_user("reviewer")
    token = re.search(r'name="csrf_token" value="([^"]+)"', reviewer.get("/export").text).group(1)
    r = reviewer.post("/export/download", data={"csrf_token": token, **form})
    _chinese_page(r, 400)
    assert word in r.text


def test_an_unknown_address_is_a_chinese_404_for_everybody(app, as_user, h) -> None:  # type: ignore[no-untyped-def]
    _chinese_page(h.client_for(app).get("/nowhere"), 404)
    r = as_user("staff_a").get("/nowhere/at/all")
    _chinese_page(r, 404)
    assert "不存在" in r.text and 'href="/queue"' in r.text  # with the user's navigation


@pytest.mark.parametrize("method, path", [("GET", "/logout"), ("GET", "/export/download"), ("POST", "/queue"),
                                          ("PUT", "/login"), ("DELETE", "/person/S000001")])
def test_a_wrong_method_is_a_chinese_405(app, h, method, path) -> None:  # type: ignore[no-untyped-def]
    r = h.client_for(app).request(method, path)
    _chinese_page(r, 405)
    assert "不支持" in r.text and r.headers.get("allow")


def test_a_403_is_chinese_and_leads_back(as_user) -> None:  # type: ignore[no-untyped-def]
    r = as_user("police").get("/queue")
    _chinese_page(r, 403)
    assert "无权访问" in r.text and 'href="/export"' in r.text and "返回" in r.text


def test_an_internal_error_is_a_chinese_500_without_the_error_in_the_answer_or_the_log(world, h, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from xunqin.web import queue
    from xunqin.web.app import create_app

    values = "INSERT failed for 张三丰 110101199003071234"  # what a database error's message may quote

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(values)

    monkeypatch.setattr(queue, "page", broken)
    caplog.set_level(logging.DEBUG)
    client = TestClient(create_app(world["url"], migrate=False), follow_redirects=False, raise_server_exceptions=True)
    assert h.login(client, "reviewer").status_code == 303
    r = client.get("/queue")  # the error does not escape as an exception either
    _chinese_page(r, 500)
    assert "系统出错" in r.text and "错误编号" in r.text and "张三丰" not in r.text and "1101011990" not in r.text
    ref = re.search(r"错误编号 ([0-9a-f]{8})", r.text).group(1)
    assert "张三丰" not in caplog.text and "110101199003071234" not in caplog.text
    assert f"RuntimeError on GET /queue (reference {ref})" in caplog.text and "broken" in caplog.text
    assert r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"


def test_another_stations_record_and_a_missing_one_get_the_same_answer(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a", "10.80.0.1")
    theirs = staff.get(f"/person/{world['person_b']}")
    missing = staff.get("/person/S999999")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text
    assert world["station_b"] not in theirs.text and world["person_b"] not in theirs.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/queue").text).group(1)
    posted = [staff.post(f"/person/{p}/decision", data={"csrf_token": token, "report_id": "R0000001", "decision": "排除"})
              for p in (world["person_b"], "S999999")]
    assert [r.status_code for r in posted] == [404, 404] and posted[0].text == posted[1].text
    with db.engine(world["url"]).connect() as con:
        denied = con.execute(sa.text("SELECT actor, entity, entity_id, ip, detail FROM audit_log WHERE action = 'access_denied' "
                                     "ORDER BY id")).all()
    assert [(a, e, i, ip) for a, e, i, ip, _ in denied] == [("staff_a", "station_record", world["person_b"], "10.80.0.1")] * 2
    details = [json.loads(d) if isinstance(d, str) else d for *_, d in denied]
    assert [d["reason"] for d in details] == ["other_station"] * 2
    assert [d["page"] for d in details] == ["/person/{record_id}", "/person/{record_id}/decision"]
