"""Browser tests of the working day's pages (Playwright on Debian's Chromium, a real server):
search by a misheard name, the family form, an upload's rejects, the province's figures, masked
and full ID numbers, folded candidates and a layout without sideways scrolling at 1366 px and on
a tablet. Each page's screenshot goes to docs/ when XUNQIN_UPDATE_SCREENSHOT=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
MAX_SCREENSHOT_BYTES = 400_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: run scripts/ci_browser.sh")


def _page(browser, server: str, username: str, password: str, width: int = 1366, height: int = 900):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = DOCS / name if os.environ.get("XUNQIN_UPDATE_SCREENSHOT") == "1" else tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=False)
    assert 10_000 < path.stat().st_size < MAX_SCREENSHOT_BYTES


def _no_sideways_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def _station_records(url: str) -> list[dict]:
    from xunqin.store import db

    with db.engine(url).connect() as con:
        return [{**json.loads(raw), "_norm": json.loads(norm)} for raw, norm in
                con.execute(sa.text("SELECT raw, normalized FROM station_records WHERE is_current"))]


def test_search_by_a_misheard_name_finds_the_person(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    heard = {"刘": "牛", "黄": "方", "张": "臧", "陈": "岑", "王": "万"}
    rec = next(r for r in _station_records(world["url"])
               if r["_norm"].get("name_kind") == "full" and r["_norm"].get("surname") in heard and r["_norm"].get("given"))
    typed = heard[rec["_norm"]["surname"]] + rec["_norm"]["given"]
    page = _page(browser, server, "reviewer", h.PASSWORD)
    page.click("nav >> text=查找")
    page.fill("input[name=name]", typed)
    page.click("#search-form button[type=submit]")
    page.wait_for_load_state()
    row = page.locator(f"table.results tr[data-id='{rec['record_id']}']")
    assert row.count() == 1 and "方言近音" in row.inner_text()
    assert _no_sideways_scroll(page)
    _shot(page, tmp_path, "search-page.png")
    row.locator(f"a[href='/person/{rec['record_id']}']").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/person/{rec['record_id']}")


def test_the_family_form_ranks_the_true_person_first(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xunqin.web.family import FIELDS

    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    reports = pd.read_csv(SAMPLE / "reports.csv", dtype=str, keep_default_na=False).set_index("report_id")
    pair = truth[truth["name_form"] == "dialect"].iloc[0]
    report = reports.loc[pair.report_id]
    page = _page(browser, server, "reviewer", h.PASSWORD)
    page.goto(server + "/family")
    for key, (column, _, _) in FIELDS.items():
        value = report.get(column, "")
        if not value:
            continue
        if key == "gender":
            page.select_option("select[name=gender]", value if value in ("男", "女") else "")
        elif key == "features":
            page.fill("textarea[name=features]", value)
        else:
            page.fill(f"#family-form input[name={key}]", value)
    page.click("#rank")
    page.wait_for_load_state()
    first = page.locator("details.cand").first
    assert first.get_attribute("data-station-record") == pair.station_record_id
    assert first.locator(".wf .row").count() >= 4  # the evidence waterfall
    assert _no_sideways_scroll(page)
    _shot(page, tmp_path, "family-page.png")
    page.click("#save")
    page.wait_for_load_state()
    assert "已保存为寻人启事" in page.locator("#saved").inner_text()


def test_an_upload_shows_its_rejects_in_chinese(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        "record_id,station,name,gender,estimated_age,found_date,hometown,id_number",
        f"BR001,{world['station_a']},欧阳明远,男,约60岁,2025-03-01,河南周口,",
        f"BR002,{world['station_a']},司马青,X,约50岁,2025/13/01,河南,411623196303150312",
        f"BR003,{world['station_b']},诸葛亮亮,男,40,2025-03-02,,",
        "BR004,长春救助站,令狐冲冲,男,40,2025-03-02,,",
    ]
    path = tmp_path / "本站导出.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = _page(browser, server, "staff_a", h.PASSWORD)
    page.click("nav >> text=上传文件")
    page.set_input_files("input[type=file]", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-counts", timeout=60_000)  # the page refreshes itself until the file is read
    assert page.locator("#rows-in").inner_text() == "4" and page.locator("#rows-refused").inner_text() == "2"
    table = page.locator("table.rejects").inner_text()
    for reason in ("性别无法识别", "月份不对", "不是您所在救助站的记录", "救助站不在救助站名单中"):
        assert reason in table
    assert "411623196303150312" not in page.content()  # a wrong ID number is shown masked
    assert "411623********0312" in table
    _shot(page, tmp_path, "upload-page.png")


def test_the_dashboard_shows_the_samples_figures(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xunqin.store import db

    stations = pd.read_csv(SAMPLE / "stations.csv", dtype=str)
    page = _page(browser, server, "reviewer", h.PASSWORD)
    page.click("nav >> text=全省统计")
    page.wait_for_load_state()
    with db.engine(world["url"]).connect() as con:
        waiting = con.execute(sa.text("SELECT count(*) FROM web_queue WHERE n_undecided > 0")).scalar()
    assert page.locator("[data-figure=held]").inner_text() == str(len(stations))
    assert page.locator("[data-figure=waiting]").inner_text() == str(waiting)
    biggest = stations["station"].value_counts()
    row = page.locator("table.figures tr", has_text=biggest.index[0]).first.inner_text()
    assert str(biggest.iloc[0]) in row
    assert page.locator("svg.chart polyline").count() == 5
    _shot(page, tmp_path, "dashboard-page.png")
    with page.expect_download() as info:
        page.click("#dashboard-xlsx")
    assert info.value.suggested_filename.endswith(".xlsx")


def test_staff_see_masked_id_numbers_and_a_reviewer_the_full_ones(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    person = world["person_b"]
    number = next(r for r in _station_records(world["url"]) if r["record_id"] == person)["id_number"]
    masked = number[:6] + "*" * 8 + number[-4:]
    staff = _page(browser, server, "staff_b", h.PASSWORD)
    staff.goto(f"{server}/person/{person}")
    assert staff.locator(".record dd.id-number").inner_text() == masked and number not in staff.content()
    assert staff.locator("#show-full-ids").count() == 0
    reviewer = _page(browser, server, "reviewer", h.PASSWORD)
    reviewer.goto(f"{server}/person/{person}")
    assert reviewer.locator(".record dd.id-number").inner_text() == masked
    reviewer.click("#show-full-ids")
    reviewer.wait_for_load_state()
    assert reviewer.locator(".record dd.id-number").inner_text() == number


@pytest.mark.parametrize("width, height", [(1366, 900), (768, 1024)])
def test_the_person_page_folds_candidates_and_fits_the_screen(server, browser, world, h, tmp_path, width, height) -> None:  # type: ignore[no-untyped-def]
    from xunqin.store import db

    with db.engine(world["url"]).connect() as con:
        person = con.execute(sa.text("SELECT station_record_id FROM candidates GROUP BY station_record_id "
                                     "HAVING count(*) >= 6 ORDER BY station_record_id LIMIT 1")).scalar()
    page = _page(browser, server, "reviewer", h.PASSWORD, width, height)
    page.goto(f"{server}/person/{person}")
    cards = page.locator("details.cand")
    assert cards.count() >= 6
    assert all(cards.nth(k).locator("table.cmp").is_visible() for k in range(3))
    fourth = cards.nth(3)
    assert not fourth.locator("table.cmp").is_visible()
    fourth.locator("summary").click()
    assert fourth.locator("table.cmp").is_visible()
    assert _no_sideways_scroll(page)
    table = cards.nth(0).locator("table.cmp")
    box, frame = table.bounding_box(), cards.nth(0).bounding_box()
    assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1  # the comparison table stays in its card
    if width == 1366:
        page.goto(f"{server}/queue")
        assert _no_sideways_scroll(page)
        _shot(page, tmp_path, "queue-page.png")
