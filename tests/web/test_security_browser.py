"""In a real browser (Debian's Chromium): every page satisfies the Content-Security-Policy it is
sent with (no violation reported, its styles applied), the session cookie is a browser-session
cookie, and the error pages are Chinese with a way back."""

from __future__ import annotations

import pytest
from test_web_browser import CHROMIUM  # the browser and server fixtures are conftest's

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: run scripts/ci_browser.sh")

# Reported by the page itself: a violation of the policy (blocked style, script, frame...).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
HEADER_BLUE = "rgb(18, 53, 91)"  # header.top in app.css: the sheet was applied


def _visit(page, url: str, console: list[str]) -> dict:  # type: ignore[no-untyped-def]
    response = page.goto(url)
    page.wait_for_load_state()
    return {"status": response.status if response else None, "csp": page.evaluate("window.__csp"),
            "header": page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor"),
            "console": [m for m in console if "Content Security Policy" in m]}


def _login(page, server: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_pages_keep_to_their_content_security_policy_and_cookies_end_with_the_browser(server, browser, world, h) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    seen = {"login": _visit(page, server + "/login", console)}  # anonymous: the sheet is inline
    _login(page, server, "admin", h.PASSWORD)
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["xq_session"]["expires"] == -1 and cookies["xq_session"]["httpOnly"]  # gone with the browser
    for name, path in (("queue", "/queue"), ("person", f"/person/{world['person_a']}"), ("export", "/export"),
                       ("audit", "/audit"), ("missing", "/no/such/page")):
        seen[name] = _visit(page, server + path, console)
    # The waterfall's bars are placed by inline style attributes: allowed and applied.
    page.goto(server + f"/person/{world['person_a']}")
    widths = page.eval_on_selector_all(".wf .bar", "bars => bars.map(b => b.getBoundingClientRect().width)")
    assert widths and max(widths) > 10

    for name, s in seen.items():
        assert s["csp"] == [] and s["console"] == [], (name, s)
        assert s["header"] == HEADER_BLUE, (name, s)
    assert seen["missing"]["status"] == 404 and seen["login"]["status"] == 200 and seen["person"]["status"] == 200
    page.goto(server + "/no/such/page")
    assert page.locator("h1").inner_text().startswith("未找到") and page.locator("nav.back a").count() >= 1
    context.close()


def test_a_403_page_is_chinese_and_leads_back_to_the_users_own_pages(server, browser, h) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    _login(page, server, "police", h.PASSWORD)
    response = page.goto(server + "/queue")
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text().startswith("无权访问")
    page.click("nav.back a[href='/export']")
    page.wait_for_load_state()
    assert page.url.endswith("/export") and page.locator("h1").inner_text().startswith("公安核查导出")
    context.close()
