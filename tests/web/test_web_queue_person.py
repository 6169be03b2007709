"""Queue: name and hometown columns, filters (found dates, hometown province, probability band,
decision state), sorts, page numbers. Person page: candidates after the third folded, the
probability's meaning, ID numbers masked for staff and shown in full to reviewers on an
audited click."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from xunqin.store import db
from xunqin.web import queue


def _rows(html: str) -> list[dict[str, str]]:
    out = []
    for tr in re.findall(r"<tr>\s*<td><a href=\"/person/[^\"]+\">.*?</tr>", html, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        out.append({"id": cells[0], "name": cells[1], "cells": cells})
    return out


def _walk(client, params: dict) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    out, number = [], 1
    while True:
        html = client.get("/queue", params={**params, "page": number}).text
        out += _rows(html)
        if f'page={number + 1}">下一页' not in html:
            return out
        number += 1


def _queue_table(url: str) -> dict[str, dict]:
    with db.engine(url).connect() as con:
        return {r.station_record_id: r._asdict() for r in con.execute(sa.text("SELECT * FROM web_queue"))}


def test_the_queue_shows_name_and_hometown(as_user, world) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(as_user("reviewer").get("/queue").text)
    with db.engine(world["url"]).connect() as con:
        raw = {rid: json.loads(r) for rid, r in con.execute(sa.text("SELECT record_id, raw FROM station_records WHERE is_current"))}
    assert rows
    for row in rows:
        assert row["name"] == (raw[row["id"]].get("name") or "（无）")
        assert (raw[row["id"]].get("hometown") or "") in row["cells"]


@pytest.mark.parametrize("params, keep", [
    ({"found_from": "2026-01-01"}, lambda r: (r["found_date"] or "") >= "2026-01-01"),
    ({"found_from": "2020-01-01", "found_to": "2023-12-31"}, lambda r: "2020-01-01" <= (r["found_date"] or "") <= "2023-12-31"),
    ({"province": "河南省"}, lambda r: r["hometown_province"] == "河南省"),
    ({"band": "90+"}, lambda r: r["best_probability"] >= 0.9),
    ({"band": "0-10"}, lambda r: r["best_probability"] < 0.1),
    ({"status": "未审"}, lambda r: r["status"] == "未审"),
    ({"province": "河南省", "band": "90+", "gender": "男"}, lambda r: r["hometown_province"] == "河南省" and r["best_probability"] >= 0.9 and r["gender"] == "男"),
])
def test_queue_filters(as_user, world, params, keep) -> None:  # type: ignore[no-untyped-def]
    shown = {r["id"] for r in _walk(as_user("reviewer"), params)}
    table = _queue_table(world["url"])
    expected = {rid for rid, r in table.items() if keep(r)}
    assert shown == expected
    if len(params) == 1:
        assert expected, "the filter selects nobody in the sample"


@pytest.mark.parametrize("sort, key, reverse", [
    ("probability", lambda r: (r["best_probability"], r["best_score"]), True),
    ("waiting", lambda r: str(r["waiting_since"]), False),
    ("found", lambda r: (r["found_date"] is not None, r["found_date"] or ""), True),
    ("score", lambda r: r["best_score"], True),
])
def test_queue_sorts_and_pages_through_everyone_once(as_user, world, sort, key, reverse) -> None:  # type: ignore[no-untyped-def]
    ids = [r["id"] for r in _walk(as_user("reviewer"), {"sort": sort})]
    table = _queue_table(world["url"])
    assert len(ids) == len(set(ids)) == len(table) > queue.PAGE_SIZE
    values = [key(table[i]) for i in ids]
    assert values == sorted(values, reverse=reverse)


@pytest.mark.parametrize("params", [{"found_from": "2024-02-30"}, {"found_from": "2025-01-02", "found_to": "2025-01-01"}])
def test_bad_dates_in_the_queue_filter_are_a_400(as_user, params) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get("/queue", params=params)
    assert r.status_code == 400 and "救助日期" in r.text


def test_page_links_keep_the_filters(as_user) -> None:  # type: ignore[no-untyped-def]
    html = as_user("reviewer").get("/queue", params={"sort": "found", "gender": "男"}).text
    links = re.findall(r'href="/queue\?([^"]+)"', html)
    assert links and all("sort=found" in link and "gender=%E7%94%B7" in link for link in links)


def test_queue_views_are_audited_with_the_people_shown(as_user, world) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(as_user("staff_a").get("/queue").text)
    with db.engine(world["url"]).connect() as con:
        detail = json.loads(con.execute(sa.text("SELECT detail FROM audit_log WHERE action = 'queue_view'")).scalar())
    assert detail["shown"] == [r["id"] for r in rows]


def _person_with_many_candidates(url: str) -> str:
    with db.engine(url).connect() as con:
        return con.execute(sa.text("SELECT station_record_id FROM candidates GROUP BY station_record_id "
                                   "HAVING count(*) >= 6 ORDER BY station_record_id LIMIT 1")).scalar()


def test_candidates_after_the_third_are_folded(as_user, world) -> None:  # type: ignore[no-untyped-def]
    person = _person_with_many_candidates(world["url"])
    html = as_user("reviewer").get(f"/person/{person}").text
    tags = re.findall(r'<details class="cand"[^>]*>', html)
    assert len(tags) >= 6
    assert all(" open" in t for t in tags[:3]) and not any(" open" in t for t in tags[3:])
    assert "概率：在这份候选名单内，这份寻人启事就是此人的可能性" in html


def test_a_saved_decision_opens_its_folded_candidate(as_user, world) -> None:  # type: ignore[no-untyped-def]
    person = _person_with_many_candidates(world["url"])
    c = as_user("reviewer")
    html = c.get(f"/person/{person}").text
    fifth = re.findall(r'name="report_id" value="([^"]+)"', html)[4]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = c.post(f"/person/{person}/decision", data={"csrf_token": token, "report_id": fifth, "decision": "待定"}, follow_redirects=True)
    assert re.search(rf'<details class="cand" id="c-{fifth}" data-report="{fifth}" open>', r.text)


def _raw(url: str, table: str, key: str, value: str) -> dict:
    with db.engine(url).connect() as con:
        return json.loads(con.execute(sa.text(f"SELECT raw FROM {table} WHERE {key} = :v AND is_current"), {"v": value}).scalar())


def test_staff_see_masked_id_numbers_and_a_reviewer_the_full_ones(as_user, world) -> None:  # type: ignore[no-untyped-def]
    person = world["person_b"]  # the sample gives this station record an ID number
    number = _raw(world["url"], "station_records", "record_id", person)["id_number"]
    assert number and len(number) == 18
    masked = number[:6] + "*" * 8 + number[-4:]
    with db.engine(world["url"]).connect() as con:
        report_ids = con.execute(sa.text("SELECT report_id FROM candidates WHERE station_record_id = :p"), {"p": person}).scalars().all()
    report_numbers = [n for n in (_raw(world["url"], "reports", "report_id", r).get("id_number") for r in report_ids) if n]
    staff = as_user("staff_b")
    page = staff.get(f"/person/{person}").text
    assert masked in page and number not in page and "显示完整身份证号" not in page
    assert all(n not in page for n in report_numbers)
    assert staff.get(f"/person/{person}", params={"ids": "full"}).status_code == 403
    assert as_user("admin").get(f"/person/{person}", params={"ids": "full"}).status_code == 403
    reviewer = as_user("reviewer")
    page = reviewer.get(f"/person/{person}").text
    assert masked in page and number not in page and 'id="show-full-ids"' in page
    full = reviewer.get(f"/person/{person}", params={"ids": "full"}).text
    assert number in full and all(n in full for n in report_numbers)
    with db.engine(world["url"]).connect() as con:
        views = con.execute(sa.text("SELECT actor, entity_id FROM audit_log WHERE action = 'id_number_view'")).all()
    assert [tuple(v) for v in views] == [("reviewer", person)]
    assert reviewer.get(f"/person/{person}", params={"ids": "all"}).status_code == 400
