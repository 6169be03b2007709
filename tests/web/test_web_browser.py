"""Browser test: Playwright drives Debian's Chromium against a real server on a free port.

Station staff log in, open the queue, open a person, mark a candidate 疑似 with a note (the
person page is saved, to docs/person-page.png when XUNQIN_UPDATE_SCREENSHOT=1); the police liaison logs in, downloads the
export and the XLSX is checked. Needs /usr/bin/chromium (scripts/ci_browser.sh installs it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl
import pytest

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshot is refreshed only when asked (XUNQIN_UPDATE_SCREENSHOT=1), so a test
# run does not change the working tree.
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "person-page.png"
MAX_SCREENSHOT_BYTES = 300_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: run scripts/ci_browser.sh")


def _login(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_staff_marks_a_suspect_and_police_download_it(server, browser, world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True, locale="zh-CN")
    page = context.new_page()

    # Station staff: any page sends to login first, then back to the queue.
    page.goto(server + "/queue")
    assert "/login" in page.url
    _login(page, server, "staff_a", h.PASSWORD)
    assert page.url.endswith("/queue")
    assert page.locator("h1").inner_text().startswith("待审队列")
    person = world["person_a"]
    links = page.locator("table.queue a").all_inner_texts()
    assert person in links
    page.click(f"table.queue a[href='/person/{person}']")
    page.wait_for_load_state()
    assert page.url.endswith(f"/person/{person}")

    first = page.locator(".cand").first
    report = first.get_attribute("data-report")
    first.locator("input[name=decision][value='疑似']").check()
    first.locator("input[name=note]").fill("左眉疤痕与家属描述一致")
    first.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "已保存" in page.locator(".saved").inner_text()
    card = page.locator(f".cand[data-report='{report}']")
    assert "疑似" in card.locator(".current").inner_text()
    assert "左眉疤痕与家属描述一致" in page.locator("section.record").last.inner_text()

    page.evaluate("window.scrollTo(0, 0)")
    shot = README_SCREENSHOT if os.environ.get("XUNQIN_UPDATE_SCREENSHOT") == "1" else tmp_path / "person-page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=False)
    assert 10_000 < shot.stat().st_size < MAX_SCREENSHOT_BYTES

    page.click("header form button")  # 退出
    page.wait_for_load_state()
    assert "/login" in page.url

    # Police liaison: lands on the export page, downloads the XLSX.
    _login(page, server, "police", h.PASSWORD)
    assert page.url.endswith("/export")
    assert page.locator("#export-total").inner_text() == "1"
    with page.expect_download() as info:
        page.click("#download-xlsx")
    download = info.value
    assert download.suggested_filename.endswith("_1条.xlsx")
    path = tmp_path / "export.xlsx"
    download.save_as(path)
    context.close()

    wb = openpyxl.load_workbook(path)
    assert len(wb.sheetnames) == 1
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][0].startswith("寻亲比对疑似名单")
    assert rows[1][0] == "生成时间" and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[1][1])
    assert rows[2] [:2] == ("记录数", "1")
    header_at = next(i for i, r in enumerate(rows) if r[0] == "序号")
    record = dict(zip(rows[header_at], rows[header_at + 1]))
    assert len(rows) == header_at + 2
    assert (record["救助站"], record["站内编号"], record["寻人编号"]) == (world["station_a"], person, report)
    assert (record["标记人"], record["标记备注"]) == ("staff_a", "左眉疤痕与家属描述一致")
    assert "家属联系电话" in record and record["比对依据"]
