"""Every route of the app, GET and POST, as each role and as nobody: the answer and the audit entry.

The routes are read from ``app.routes``, so a route added later is walked too: it must have a
row in EXPECTED (the table test fails naming it), and meanwhile the rules every route obeys are
checked for it anyway: nobody is sent to the login page, a POST without the session's CSRF token
is refused and audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from xunqin.store import db

ROLES = ("nobody", "staff_a", "staff_b", "reviewer", "police", "admin")
ADDRESS = {role: f"10.77.0.{i + 1}" for i, role in enumerate(ROLES)}
PUBLIC = {("GET", "/login"), ("POST", "/login")}
METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Expect:
    status: int
    action: str | None = None  # the one audit entry the request writes (None: none)
    to: str | None = None  # where a redirect points (prefix)
    actor: str | None = None  # when not the user (e.g. "-" for the login form)


TO_LOGIN = Expect(303, to="/login")
NOT_ALLOWED = Expect(405)
DENIED = Expect(403, "access_denied")


def every(e: Expect) -> dict[str, Expect]:
    return dict.fromkeys(ROLES, e)


def logged_in(e: Expect, **per_role: Expect) -> dict[str, Expect]:
    """Nobody -> the login page; each role ``e`` unless named."""
    return {"nobody": TO_LOGIN, **{r: per_role.get(r, e) for r in ROLES[1:]}}


# (method, route path) -> role -> what happens, with a valid CSRF token and a sensible form.
EXPECTED: dict[tuple[str, str], dict[str, Expect]] = {
    ("GET", "/login"): every(Expect(200)),
    # The login form's token comes with its own cookie; a POST without both is refused.
    ("POST", "/login"): every(Expect(403, "csrf_failed", actor="-")),
    ("GET", "/logout"): every(NOT_ALLOWED),
    ("POST", "/logout"): logged_in(Expect(303, "logout", to="/login")),
    ("GET", "/"): logged_in(Expect(303, to="/queue"), police=Expect(303, to="/export")),
    ("POST", "/"): every(NOT_ALLOWED),
    ("GET", "/static/{name}"): logged_in(Expect(200)),
    ("POST", "/static/{name}"): every(NOT_ALLOWED),
    # The queue shows names: each view is audited with the people shown.
    ("GET", "/queue"): logged_in(Expect(200, "queue_view"), police=DENIED),
    ("POST", "/queue"): every(NOT_ALLOWED),
    # The record is station A's: staff of B get the answer of a record that is not there.
    ("GET", "/person/{record_id}"): logged_in(Expect(200, "person_view"), staff_b=Expect(404, "access_denied"), police=DENIED),
    ("POST", "/person/{record_id}"): every(NOT_ALLOWED),
    ("GET", "/person/{record_id}/decision"): every(NOT_ALLOWED),
    ("POST", "/person/{record_id}/decision"): logged_in(Expect(303, "decision", to="/person/"),
                                                       staff_b=Expect(404, "access_denied"), police=DENIED),
    ("GET", "/export"): logged_in(Expect(200, "export_view"), staff_a=DENIED, staff_b=DENIED),
    ("POST", "/export"): every(NOT_ALLOWED),
    ("GET", "/export/download"): every(NOT_ALLOWED),
    ("POST", "/export/download"): logged_in(Expect(200, "export"), staff_a=DENIED, staff_b=DENIED),
    ("GET", "/audit"): logged_in(DENIED, admin=Expect(200, "audit_view")),
    ("POST", "/audit"): every(NOT_ALLOWED),
    # The working day's pages. An empty search form searches nothing (no entry).
    ("GET", "/search"): logged_in(Expect(200), police=DENIED),
    ("POST", "/search"): every(NOT_ALLOWED),
    ("GET", "/family"): logged_in(Expect(200), police=DENIED),
    ("POST", "/family"): logged_in(Expect(200, "family_match"), police=DENIED),
    ("GET", "/family/save"): every(NOT_ALLOWED),
    ("POST", "/family/save"): logged_in(Expect(400), police=DENIED),  # not ranked first: nothing to save
    ("GET", "/upload"): logged_in(Expect(200), police=DENIED),
    ("POST", "/upload"): logged_in(Expect(400), police=DENIED),  # no file
    ("GET", "/upload/progress.js"): logged_in(Expect(200)),
    ("POST", "/upload/progress.js"): every(NOT_ALLOWED),
    ("GET", "/upload/police"): logged_in(DENIED, police=Expect(200), admin=Expect(200)),
    ("POST", "/upload/police"): logged_in(DENIED, police=Expect(400), admin=Expect(400)),  # no file
    ("GET", "/upload/{token}"): logged_in(Expect(404), police=DENIED),  # nobody's upload
    ("POST", "/upload/{token}"): every(NOT_ALLOWED),
    ("GET", "/upload/{token}/rejects.csv"): logged_in(Expect(404), police=DENIED),
    ("POST", "/upload/{token}/rejects.csv"): every(NOT_ALLOWED),
    ("GET", "/dashboard"): logged_in(DENIED, reviewer=Expect(200), admin=Expect(200)),
    ("POST", "/dashboard"): every(NOT_ALLOWED),
    ("GET", "/dashboard.xlsx"): logged_in(DENIED, reviewer=Expect(200, "dashboard_export"), admin=Expect(200, "dashboard_export")),
    ("POST", "/dashboard.xlsx"): every(NOT_ALLOWED),
    ("GET", "/stations"): logged_in(DENIED, admin=Expect(200)),
    ("POST", "/stations"): every(NOT_ALLOWED),
    ("GET", "/stations/add"): every(NOT_ALLOWED),
    ("POST", "/stations/add"): logged_in(DENIED, admin=Expect(400)),  # no name
    ("GET", "/stations/seed"): every(NOT_ALLOWED),
    ("POST", "/stations/seed"): logged_in(DENIED, admin=Expect(303, to="/stations")),  # the sample's are listed
    ("GET", "/stations/{station_id}"): every(NOT_ALLOWED),
    ("POST", "/stations/{station_id}"): logged_in(DENIED, admin=Expect(303, "station_changed", to="/stations")),
}


def _routes(app) -> list[tuple[str, str, set[str]]]:  # type: ignore[no-untyped-def]
    """(method, path, the methods the route has) for GET and POST of every route."""
    by_path: dict[str, set[str]] = {}
    for route in app.routes:
        methods = getattr(route, "methods", None)
        assert methods is not None, f"a route of a kind this test does not know: {route!r} (add it here)"
        by_path.setdefault(route.path, set()).update(methods)  # GET and POST of one path may be two routes
    out = [(method, path, methods) for path, methods in by_path.items() for method in METHODS]
    # Logging out ends the session: last.
    return sorted(out, key=lambda r: (r[1] == "/logout", r[1], r[0]))


def _path_values(world: dict) -> dict[str, str]:
    return {"record_id": world["person_a"], "name": "app.css", "token": "no-such-upload", "station_id": "1"}


def _url(path: str, world: dict) -> str:
    values = _path_values(world)
    params = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    unknown = [p for p in params if p not in values]
    assert not unknown, f"{path}: no value for path parameter(s) {unknown}: add them to _path_values"
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def _form(path: str, world: dict) -> dict[str, str]:
    return {
        "/person/{record_id}/decision": {"report_id": world["report_a"], "decision": "待定"},
        "/export/download": {"fmt": "csv"},
        "/login": {"username": "reviewer", "password": "wrong-password"},
        "/family": {"name": "张三", "missing_date": "2020-01-01"},
        "/family/save": {"name": "张三", "missing_date": "2020-01-01"},
    }.get(path, {})


def _last_id(url: str) -> int:
    with db.engine(url).connect() as con:
        return int(con.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar())


def _since(url: str, n: int) -> list[tuple[str, str, str | None]]:
    with db.engine(url).connect() as con:
        return [tuple(r) for r in con.execute(sa.text("SELECT actor, action, ip FROM audit_log WHERE id > :n ORDER BY id"), {"n": n})]


@pytest.fixture()
def walk_world(world):  # type: ignore[no-untyped-def]
    """The world plus a candidate report of person A (for the decision form)."""
    with db.engine(world["url"]).connect() as con:
        report = con.execute(sa.text("SELECT report_id FROM candidates WHERE station_record_id = :p ORDER BY rank LIMIT 1"),
                             {"p": world["person_a"]}).scalar()
    return {**world, "report_a": report}


def _client(app, h, role: str):  # type: ignore[no-untyped-def]
    """(client, CSRF token of its session) for a role; nobody has neither session nor token."""
    client = h.client_for(app, ADDRESS[role])
    if role == "nobody":
        return client, "no-session-no-token"
    assert h.login(client, role).status_code == 303
    page = client.get("/no-such-page")  # every page of a logged-in user carries the logout form's token
    return client, h.csrf_of(page.text)


def _check(client, world: dict, role: str, method: str, path: str, expect: Expect, token: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Problems with one request (empty when it behaved as expected)."""
    url = world["url"]
    before = _last_id(url)
    data = {**_form(path, world), "csrf_token": token} if method == "POST" else None
    r = client.request(method, _url(path, world), data=data)
    where = f"{role} {method} {path}"
    problems = []
    if r.status_code != expect.status:
        problems.append(f"{where}: status {r.status_code}, expected {expect.status}")
    if expect.to and not r.headers.get("location", "").startswith(expect.to):
        problems.append(f"{where}: redirect to {r.headers.get('location')!r}, expected {expect.to}…")
    if r.status_code >= 400 and not r.headers.get("content-type", "").startswith("text/html"):
        problems.append(f"{where}: error answered as {r.headers.get('content-type')}")
    entries = _since(url, before)
    actions = [a for _, a, _ in entries]
    if actions != ([expect.action] if expect.action else []):
        problems.append(f"{where}: audit {actions}, expected {[expect.action] if expect.action else []}")
    actor = expect.actor or (role if role != "nobody" else "-")
    for who, _, ip in entries:
        if (who, ip) != (actor, ADDRESS[role]):
            problems.append(f"{where}: audit entry by {who} from {ip}, expected {actor} from {ADDRESS[role]}")
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_table_says(app, h, walk_world, role) -> None:  # type: ignore[no-untyped-def]
    client, token = _client(app, h, role)
    problems, walked = [], 0
    for method, path, _ in _routes(app):
        expect = EXPECTED.get((method, path))
        if expect is None:
            continue  # reported by the table test; the general rules below still cover it
        problems += _check(client, walk_world, role, method, path, expect[role], token)
        walked += 1
    assert walked >= len(EXPECTED)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_obeys_the_rules_for_nobody_and_for_forged_forms(app, h, walk_world, role) -> None:  # type: ignore[no-untyped-def]
    """Nobody reaches only the login form; a POST with a wrong token is refused (403) and
    audited, before anything else is looked at: for every route, in the table or not."""
    client, _ = _client(app, h, role)
    problems = []
    for method, path, methods in _routes(app):
        if method not in methods:
            expect = NOT_ALLOWED
        elif method == "POST" and (role != "nobody" or (method, path) in PUBLIC):
            expect = Expect(403, "csrf_failed", actor="-" if path == "/login" else None)
        elif role == "nobody" and (method, path) not in PUBLIC:
            expect = TO_LOGIN
        else:
            continue  # a GET of a logged-in role: the table's business
        problems += _check(client, walk_world, role, method, path, expect, "forged-token")
    assert not problems, "\n".join(problems)


def test_the_table_has_a_row_for_every_route_and_only_for_them(app) -> None:  # type: ignore[no-untyped-def]
    walked = {(m, p) for m, p, _ in _routes(app)}
    missing = sorted(walked - EXPECTED.keys())
    assert not missing, f"routes without an expectation (add each to EXPECTED, for every role): {missing}"
    assert not sorted(EXPECTED.keys() - walked), "EXPECTED names routes the app no longer has"
    assert all(set(row) == set(ROLES) for row in EXPECTED.values())


def test_a_route_added_later_is_walked_and_caught(world, h) -> None:  # type: ignore[no-untyped-def]
    """A new page without a row fails the table test by name; one forgetting the login (or a
    form forgetting its CSRF check) fails the rules for every role."""
    from fastapi import Form

    from xunqin.web.app import create_app

    app = create_app(world["url"], migrate=False)

    @app.get("/later-page")
    def later_page() -> dict:  # no login required: the mistake to catch
        return {}

    @app.post("/later-form")
    def later_form(csrf_token: str = Form("")) -> dict:  # takes a form without checking its token
        return {}

    with pytest.raises(AssertionError, match=r"\('GET', '/later-page'\).*\('POST', '/later-form'\)"):
        test_the_table_has_a_row_for_every_route_and_only_for_them(app)
    client = h.client_for(app, ADDRESS["nobody"])
    walked = {"url": world["url"], "person_a": world["person_a"], "report_a": "R"}
    problems = _check(client, walked, "nobody", "GET", "/later-page", TO_LOGIN, "")
    assert any("status 200, expected 303" in p for p in problems)
    problems = _check(client, walked, "nobody", "POST", "/later-form", TO_LOGIN, "forged-token")
    assert any("status 200, expected 303" in p for p in problems)
