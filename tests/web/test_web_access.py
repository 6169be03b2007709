"""Access control: every route needs a login, roles and stations are enforced, CSRF on forms,
login throttling, session expiry, argon2 hashes, no open redirect."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute

from xunqin.store import db
from xunqin.web import auth

PUBLIC = {("GET", "/login"), ("POST", "/login")}


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                out.append((method, route.path))
    return out


def test_the_app_has_the_routes_this_file_checks(app) -> None:  # type: ignore[no-untyped-def]
    paths = {p for _, p in _routes(app)}
    assert {"/queue", "/person/{record_id}", "/person/{record_id}/decision", "/export", "/export/download", "/audit",
            "/static/{name}", "/logout", "/"} <= paths


def test_every_route_without_a_session_redirects_to_login(app, h, world) -> None:  # type: ignore[no-untyped-def]
    client = h.client_for(app)
    checked = 0
    for method, path in _routes(app):
        if (method, path) in PUBLIC:
            continue
        url = path.replace("{record_id}", world["person_a"]).replace("{name}", "app.css")
        r = client.request(method, url, data={"csrf_token": "x", "report_id": "R1", "decision": "疑似"} if method == "POST" else None)
        assert r.status_code == 303, (method, path, r.status_code)
        assert r.headers["location"].startswith("/login"), (method, path)
        assert world["person_a"] not in r.text
        checked += 1
    assert checked >= 9
    # A forged or stale cookie is no session either.
    client.cookies.set("xq_session", "forged-token")
    assert client.get("/queue").status_code == 303


def test_login_page_is_public_and_carries_a_csrf_token(app, h) -> None:  # type: ignore[no-untyped-def]
    r = h.client_for(app).get("/login")
    assert r.status_code == 200 and "登录" in r.text
    assert h.csrf_of(r.text)


@pytest.mark.parametrize("username, path, status", [
    ("staff_a", "/queue", 200),
    ("staff_a", "/export", 403),
    ("staff_a", "/audit", 403),
    ("reviewer", "/queue", 200),
    ("reviewer", "/export", 200),
    ("reviewer", "/audit", 403),  # the audit log is the administrator's
    ("police", "/queue", 403),
    ("police", "/export", 200),
    ("police", "/audit", 403),
    ("admin", "/audit", 200),
    ("admin", "/queue", 200),
])
def test_roles_reach_their_pages_only(as_user, username, path, status) -> None:  # type: ignore[no-untyped-def]
    assert as_user(username).get(path).status_code == status


def test_station_staff_get_the_404_of_a_missing_record_for_a_person_of_another_station(as_user, world) -> None:  # type: ignore[no-untyped-def]
    a = as_user("staff_a")
    assert a.get(f"/person/{world['person_a']}").status_code == 200
    r = a.get(f"/person/{world['person_b']}")
    assert r.status_code == 404 and "没有这条救助记录" in r.text
    assert world["station_b"] not in r.text
    # Nor can they decide for that person.
    token = re.search(r'name="csrf_token" value="([^"]+)"', a.get("/queue").text).group(1)
    r = a.post(f"/person/{world['person_b']}/decision", data={"csrf_token": token, "report_id": "R0000001", "decision": "排除"})
    assert r.status_code == 404
    with db.engine(world["url"]).connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM decisions")).scalar() == 0
    # The other station's staff and the reviewer can open it; police cannot.
    assert as_user("staff_b").get(f"/person/{world['person_b']}").status_code == 200
    assert as_user("reviewer").get(f"/person/{world['person_b']}").status_code == 200
    assert as_user("police").get(f"/person/{world['person_b']}").status_code == 403


def test_station_staff_queue_shows_their_station_only_whatever_the_filter(as_user, world) -> None:  # type: ignore[no-untyped-def]
    r = as_user("staff_a").get("/queue", params={"station": world["station_b"]})
    assert r.status_code == 200
    assert world["person_a"] in r.text
    assert world["station_b"] not in r.text


@pytest.mark.parametrize("record_id", ["NOPE", "S999999", "x" * 300, "%00", "S000001'--"])
def test_unknown_person_is_404(as_user, record_id) -> None:  # type: ignore[no-untyped-def]
    assert as_user("reviewer").get(f"/person/{record_id}").status_code == 404


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 150])
def test_decision_without_the_session_csrf_token_is_refused(as_user, world, token) -> None:  # type: ignore[no-untyped-def]
    c = as_user("staff_a")
    page = c.get(f"/person/{world['person_a']}").text
    report = re.search(r'name="report_id" value="([^"]+)"', page).group(1)
    data = {"report_id": report, "decision": "疑似"}
    if token is not None:
        data["csrf_token"] = token
    assert c.post(f"/person/{world['person_a']}/decision", data=data).status_code == 403
    with db.engine(world["url"]).connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM decisions")).scalar() == 0


def test_another_sessions_csrf_token_does_not_work(as_user, world) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = as_user("staff_a"), as_user("reviewer")
    page = mine.get(f"/person/{world['person_a']}").text
    report = re.search(r'name="report_id" value="([^"]+)"', page).group(1)
    foreign = re.search(r'name="csrf_token" value="([^"]+)"', theirs.get("/queue").text).group(1)
    r = mine.post(f"/person/{world['person_a']}/decision", data={"csrf_token": foreign, "report_id": report, "decision": "疑似"})
    assert r.status_code == 403


def test_login_form_needs_its_csrf_cookie(app, h) -> None:  # type: ignore[no-untyped-def]
    c = h.client_for(app)
    r = c.post("/login", data={"username": "reviewer", "password": h.PASSWORD, "csrf_token": "guess"})
    assert r.status_code == 403 and "xq_session" not in c.cookies


@pytest.mark.parametrize("password", ["", "wrong-password", "s3cret-pass ", "S3CRET-PASS", "x" * 1000])
def test_wrong_passwords_do_not_log_in(app, h, password) -> None:  # type: ignore[no-untyped-def]
    r = h.login(h.client_for(app), "reviewer", password)
    assert r.status_code in (401, 400) and "xq_session" not in r.cookies


def test_unknown_user_and_disabled_user_cannot_log_in(app, h, world) -> None:  # type: ignore[no-untyped-def]
    assert h.login(h.client_for(app), "nobody").status_code == 401
    with db.sessions(world["url"]).begin() as s:
        s.execute(sa.text("UPDATE web_users SET is_active = false WHERE username = 'police'"))
    assert h.login(h.client_for(app), "police").status_code == 401


def test_five_failures_lock_the_user_at_that_address_for_a_while(app, h, world) -> None:  # type: ignore[no-untyped-def]
    c = h.client_for(app, "10.1.1.1")
    for _ in range(auth.PAIR_LIMIT):
        assert h.login(c, "reviewer", "bad-password").status_code == 401
    r = h.login(c, "reviewer")  # right password, still locked
    assert r.status_code == 429 and "次数过多" in r.text
    assert h.login(h.client_for(app, "10.2.2.2"), "reviewer").status_code == 303  # another address
    assert h.login(h.client_for(app, "10.1.1.1"), "police").status_code == 303  # another user
    # After the window the lock is gone.
    with db.sessions(world["url"]).begin() as s:
        s.execute(sa.text("UPDATE web_login_attempts SET at = :t"), {"t": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=16)})
    assert h.login(h.client_for(app, "10.1.1.1"), "reviewer").status_code == 303
    with db.engine(world["url"]).connect() as con:
        actions = [a for (a,) in con.execute(sa.text("SELECT action FROM audit_log WHERE actor = 'reviewer'"))]
    assert actions.count("login_failed") == auth.PAIR_LIMIT and "login_throttled" in actions and "login" in actions


@pytest.mark.parametrize("column, shift", [("expires_at", dt.timedelta(seconds=-1)),
                                           ("last_seen", -dt.timedelta(minutes=auth.IDLE_MINUTES + 1))])
def test_expired_or_idle_sessions_send_back_to_login(as_user, world, column, shift) -> None:  # type: ignore[no-untyped-def]
    c = as_user("reviewer")
    assert c.get("/queue").status_code == 200
    with db.sessions(world["url"]).begin() as s:
        s.execute(sa.text(f"UPDATE web_sessions SET {column} = :t"), {"t": dt.datetime.now(dt.timezone.utc) + shift})
    r = c.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_logout_ends_the_session_server_side(as_user) -> None:  # type: ignore[no-untyped-def]
    c = as_user("reviewer")
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/queue").text).group(1)
    cookie = c.cookies.get("xq_session")
    assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    c.cookies.set("xq_session", cookie)  # replaying the old cookie does not help
    assert c.get("/queue").status_code == 303


def test_passwords_are_stored_as_argon2id_hashes(world) -> None:  # type: ignore[no-untyped-def]
    with db.engine(world["url"]).connect() as con:
        hashes = [h for (h,) in con.execute(sa.text("SELECT password_hash FROM web_users"))]
    assert hashes and all(h.startswith("$argon2id$") and "s3cret" not in h for h in hashes)
    assert len(set(hashes)) == len(hashes)  # salted


@pytest.mark.parametrize("next_param, expected", [
    ("/person/S000001", "/person/S000001"),
    ("//evil.example/x", "/queue"),
    ("https://evil.example/", "/queue"),
    ("/\\evil.example", "/queue"),
    ("", "/queue"),
])
def test_login_redirects_only_to_local_paths(app, h, next_param, expected) -> None:  # type: ignore[no-untyped-def]
    c = h.client_for(app)
    token = h.csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": "reviewer", "password": h.PASSWORD, "csrf_token": token, "next": next_param})
    assert r.status_code == 303 and r.headers["location"] == expected


def test_police_land_on_the_export_page(app, h) -> None:  # type: ignore[no-untyped-def]
    assert h.login(h.client_for(app), "police").headers["location"] == "/export"


def test_pages_are_not_cached_and_not_framed(as_user, world) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get(f"/person/{world['person_a']}")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
