"""Login and sessions under attack: the client address (forged proxy headers, a trusted proxy),
throttles per account and per address that cannot keep a real user out, failed logins in the
audit without what was typed, browser-session cookies, a cap on sessions, security headers,
and the ``xunqin web`` server itself (no server header, proxy headers only when named)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from xunqin.store import db
from xunqin.web import auth, command
from xunqin.web.app import create_app
from xunqin.web.models import LoginAttempt

PROXY = "127.0.0.1"


def _login(client, username: str, password: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    import re

    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"},
                       headers=headers)


def _audit(url: str, since: int = 0) -> list[dict]:
    with db.engine(url).connect() as con:
        rows = con.execute(sa.text("SELECT id, actor, action, ip, detail FROM audit_log WHERE id > :n ORDER BY id"), {"n": since}).all()
    return [{"id": i, "actor": a, "action": c, "ip": ip, "detail": json.loads(d) if isinstance(d, str) else d}
            for i, a, c, ip, d in rows]


def _last_audit_id(url: str) -> int:
    with db.engine(url).connect() as con:
        return int(con.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar())


def _shift_attempts(url: str, delta: dt.timedelta) -> None:
    with db.sessions(url).begin() as s:
        for a in s.scalars(sa.select(LoginAttempt)):
            a.at = (a.at if a.at.tzinfo else a.at.replace(tzinfo=dt.timezone.utc)) + delta


# ---------------------------------------------------------------- the client address


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(world, h) -> None:  # type: ignore[no-untyped-def]
    """30 wrong passwords for one account, each with another forged address: the throttle sees
    one address (the peer, loopback included: no proxy is trusted by default)."""
    app = create_app(world["url"], migrate=False)
    client = h.client_for(app, "127.0.0.1")
    since = _last_audit_id(world["url"])
    codes = []
    for i in range(30):
        forged = {"X-Forwarded-For": f"203.0.113.{i}", "Forwarded": f"for=198.51.100.{i}", "X-Real-IP": f"192.0.2.{i}"}
        codes.append(_login(client, "reviewer", "wrong-password", forged).status_code)
    assert codes == [401] * auth.PAIR_LIMIT + [429] * (30 - auth.PAIR_LIMIT)
    # The right password with yet another forged address is still refused.
    assert _login(client, "reviewer", h.PASSWORD, {"X-Forwarded-For": "198.51.100.250"}).status_code == 429
    entries = _audit(world["url"], since)
    assert len(entries) == 31 and {e["ip"] for e in entries} == {"127.0.0.1"}


def test_a_named_proxy_gives_the_client_address_and_nobody_else_can(world, h) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world["url"], migrate=False, forwarded_allow_ips=(PROXY, "10.0.0.0/24"))
    cases = [
        (PROXY, "198.51.100.7", "198.51.100.7"),
        # The proxy appends the peer it saw: what a client wrote before it is not believed.
        (PROXY, "6.6.6.6, 198.51.100.8", "198.51.100.8"),
        ("10.0.0.5", "198.51.100.9", "198.51.100.9"),  # a network of proxies
        ("10.9.9.9", "198.51.100.10", "10.9.9.9"),  # not a proxy: its header is ignored
        (PROXY, "<script>", "unknown"),  # a proxy passing rubbish: no address, never the text
    ]
    for peer, header, expected in cases:
        since = _last_audit_id(world["url"])
        r = _login(h.client_for(app, peer), "admin", h.PASSWORD, {"X-Forwarded-For": header})
        assert r.status_code == 303
        assert [e["ip"] for e in _audit(world["url"], since)] == [expected], (peer, header)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("127.0.0.1",)),
    ("127.0.0.1,10.0.0.5", ("127.0.0.1", "10.0.0.5")),
    (" 10.0.0.0/8 , ::1 ", ("10.0.0.0/8", "::1")),
    ("10.1.2.3/8", ("10.0.0.0/8",)),
    ("", ()),
    ("*", None),
    ("127.0.0.1,*", None),
    ("proxy.local", None),
    ("10.0.0.300", None),
])
def test_forwarded_allow_ips_takes_addresses_and_networks_only(text, expected) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    if expected is None:
        with pytest.raises(SystemExit):
            parser.parse_args(["--forwarded-allow-ips", text])
    else:
        assert parser.parse_args(["--forwarded-allow-ips", text]).forwarded_allow_ips == expected
    assert parser.parse_args([]).forwarded_allow_ips == ()


# ---------------------------------------------------------------- throttles


def test_one_password_sprayed_over_30_usernames_from_one_address_is_limited(world, h) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world["url"], migrate=False)
    client = h.client_for(app, "10.20.0.1")
    names = ["reviewer", "reviewer2", "police", "admin", "staff_a", "staff_b"] + [f"user{i:02d}" for i in range(24)]
    since = _last_audit_id(world["url"])
    codes = [_login(client, n, "Summer2024!").status_code for n in names]
    assert codes == [401] * auth.ADDRESS_LIMIT + [429] * (30 - auth.ADDRESS_LIMIT)
    # An account never tried from here is refused at this address too; elsewhere it is not.
    assert _login(h.client_for(app, "10.20.0.1"), "reviewer", h.PASSWORD).status_code == 429
    assert _login(h.client_for(app, "10.20.0.2"), "reviewer", h.PASSWORD).status_code == 303
    throttled = [e for e in _audit(world["url"], since) if e["action"] == "login_throttled"]
    assert len(throttled) == 30 - auth.ADDRESS_LIMIT + 1 and {e["detail"]["rule"] for e in throttled} == {"address"}
    # The lock lifts by itself.
    _shift_attempts(world["url"], -auth.FAILURE_WINDOW - dt.timedelta(seconds=1))
    assert _login(h.client_for(app, "10.20.0.1"), "reviewer2", h.PASSWORD).status_code == 303


def test_a_spray_from_the_users_own_office_address_does_not_lock_the_user_out(world, h) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world["url"], migrate=False)
    office = "10.30.0.1"
    assert _login(h.client_for(app, office), "staff_a", h.PASSWORD).status_code == 303  # staff_a works here
    attacker = h.client_for(app, office)  # behind the same office router
    codes = [_login(attacker, f"user{i:02d}", "123456").status_code for i in range(30)]
    assert codes.count(429) == 30 - auth.ADDRESS_LIMIT
    assert _login(h.client_for(app, office), "staff_b", h.PASSWORD).status_code == 429  # never logged in here
    assert _login(h.client_for(app, office), "staff_a", h.PASSWORD).status_code == 303


def test_failures_from_many_addresses_lock_an_account_at_new_addresses_only_and_not_for_ever(world, h) -> None:  # type: ignore[no-untyped-def]
    """Through a trusted proxy 30 real addresses try one account: after ACCOUNT_LIMIT failures
    new addresses are refused; the user's usual address is not; the lock expires."""
    app = create_app(world["url"], migrate=False, forwarded_allow_ips=(PROXY,))
    proxy = h.client_for(app, PROXY)
    usual = {"X-Forwarded-For": "192.0.2.10"}
    assert _login(proxy, "police", h.PASSWORD, usual).status_code == 303  # the liaison's desk, yesterday
    codes = [_login(h.client_for(app, PROXY), "police", "guess-%d" % i, {"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(30)]
    assert codes == [401] * auth.ACCOUNT_LIMIT + [429] * (30 - auth.ACCOUNT_LIMIT)
    assert _login(h.client_for(app, PROXY), "police", h.PASSWORD, {"X-Forwarded-For": "203.0.113.99"}).status_code == 429
    assert _login(h.client_for(app, PROXY), "police", h.PASSWORD, usual).status_code == 303
    # Other accounts are not touched.
    assert _login(h.client_for(app, PROXY), "reviewer", h.PASSWORD, {"X-Forwarded-For": "203.0.113.99"}).status_code == 303
    _shift_attempts(world["url"], -auth.FAILURE_WINDOW - dt.timedelta(seconds=1))
    assert _login(h.client_for(app, PROXY), "police", h.PASSWORD, {"X-Forwarded-For": "203.0.113.99"}).status_code == 303


def test_a_slow_attack_meets_the_daily_back_off_and_it_expires_too(world, h) -> None:  # type: ignore[no-untyped-def]
    """ACCOUNT_DAY_LIMIT failures spread over a day (never ACCOUNT_LIMIT within 15 minutes)."""
    app = create_app(world["url"], migrate=False)
    assert _login(h.client_for(app, "10.40.0.1"), "reviewer", h.PASSWORD).status_code == 303  # usual address
    now = dt.datetime.now(dt.timezone.utc)
    with db.sessions(world["url"]).begin() as s:
        key = auth.name_key(s, "reviewer")
        for i in range(auth.ACCOUNT_DAY_LIMIT):
            s.add(LoginAttempt(username=key, ip=f"198.51.100.{i}", at=now - dt.timedelta(minutes=40 * i + 20), success=False))
    assert _login(h.client_for(app, "10.40.0.2"), "reviewer", h.PASSWORD).status_code == 429
    assert _login(h.client_for(app, "10.40.0.1"), "reviewer", h.PASSWORD).status_code == 303
    _shift_attempts(world["url"], -auth.ACCOUNT_DAY_WINDOW)
    assert _login(h.client_for(app, "10.40.0.2"), "reviewer", h.PASSWORD).status_code == 303


def test_the_429_page_is_chinese(app, h) -> None:  # type: ignore[no-untyped-def]
    c = h.client_for(app, "10.50.0.1")
    for _ in range(auth.PAIR_LIMIT):
        _login(c, "reviewer", "wrong-password")
    r = _login(c, "reviewer", "wrong-password")
    assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text and "登录失败次数过多" in r.text and "分钟后再试" in r.text


def test_a_failed_login_records_whether_the_name_exists_never_what_was_typed(app, h, world) -> None:  # type: ignore[no-untyped-def]
    c = h.client_for(app, "10.60.0.1")
    since = _last_audit_id(world["url"])
    typed = "MyS3cret-Passw0rd"  # a password typed into the username box
    assert _login(c, typed, "x").status_code == 401
    assert _login(c, "reviewer", "wrong-password").status_code == 401
    entries = _audit(world["url"], since)
    assert [(e["actor"], e["action"], e["detail"]) for e in entries] == [
        ("-", "login_failed", {"known_user": False}), ("reviewer", "login_failed", {"known_user": True})]
    with db.engine(world["url"]).connect() as con:
        dump = "\n".join(str(tuple(r)) for table in ("audit_log", "web_login_attempts")
                         for r in con.execute(sa.text(f"SELECT * FROM {table}")))
    assert typed not in dump and typed.lower() not in dump.lower()


def test_migration_0005_forgets_names_typed_before_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(url, "0004_labels")
    with db.engine(url).begin() as con:
        con.execute(sa.text("INSERT INTO web_users (username, password_hash, role, is_active, created_at) "
                            "VALUES ('wang', 'x', 'admin', 1, '2025-01-01')"))
        for actor, action in (("hunter2-typed", "login_failed"), ("wang", "login_failed"), ("hunter2-typed", "login_throttled"),
                              ("wang", "login")):
            con.execute(sa.text("INSERT INTO audit_log (at, actor, action) VALUES ('2025-01-01', :a, :c)"), {"a": actor, "c": action})
        con.execute(sa.text("INSERT INTO web_login_attempts (username, ip, at, success) VALUES ('hunter2-typed', '1.2.3.4', '2025-01-01', 0)"))
    db.upgrade(url)
    with db.engine(url).connect() as con:
        assert [tuple(r) for r in con.execute(sa.text("SELECT actor, action, ip FROM audit_log ORDER BY id"))] == [
            ("-", "login_failed", None), ("wang", "login_failed", None), ("-", "login_throttled", None), ("wang", "login", None)]
        assert con.execute(sa.text("SELECT count(*) FROM web_login_attempts")).scalar() == 0
    db.dispose(url)


# ---------------------------------------------------------------- sessions and headers


def _set_cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(name + "=")]
    assert found, f"no {name} cookie set"
    return found[0].lower()


@pytest.mark.parametrize("secure", [False, True])
def test_cookies_live_for_the_browser_session_only(world, h, secure) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    app = create_app(world["url"], migrate=False, secure_cookies=secure)
    # A Secure cookie goes back over HTTPS only (the TLS proxy's side).
    c = TestClient(app, base_url="https://testserver" if secure else "http://testserver", follow_redirects=False)
    page = c.get("/login")
    r = _login(c, "reviewer", h.PASSWORD)
    for cookie in (_set_cookie(page, "xq_login_csrf"), _set_cookie(r, "xq_session")):
        assert "max-age" not in cookie and "expires" not in cookie
        assert "httponly" in cookie and "samesite" in cookie
        assert ("; secure" in cookie) is secure
    assert ("strict-transport-security" in r.headers) is secure
    if secure:
        assert r.headers["strict-transport-security"] == f"max-age={365 * 24 * 3600}"


def test_a_fourth_session_ends_the_oldest(app, h, world) -> None:  # type: ignore[no-untyped-def]
    clients = []
    for i in range(auth.MAX_SESSIONS + 2):
        c = h.client_for(app, f"10.70.0.{i + 1}")
        assert _login(c, "reviewer", h.PASSWORD).status_code == 303
        clients.append(c)
    assert [c.get("/queue").status_code for c in clients] == [303, 303] + [200] * auth.MAX_SESSIONS
    with db.engine(world["url"]).connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM web_sessions s JOIN web_users u ON u.id = s.user_id "
                                   "WHERE u.username = 'reviewer'")).scalar() == auth.MAX_SESSIONS
    logins = [e for e in _audit(world["url"]) if e["action"] == "login" and e["actor"] == "reviewer"]
    assert [(e["detail"] or {}).get("sessions_ended", 0) for e in logins] == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("path", ["/login", "/queue", "/person/{person}", "/nowhere"])
def test_every_answer_carries_the_security_headers(as_user, world, path) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get(path.format(person=world["person_a"]))
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin" and r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    for part in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"):
        assert part in csp
    assert "strict-transport-security" not in r.headers  # plain HTTP: HSTS would mean nothing


# ---------------------------------------------------------------- the server `xunqin web` runs


@pytest.fixture()
def serve(world):  # type: ignore[no-untyped-def]
    """Start `xunqin web` with the given arguments (its own uvicorn configuration) on a free port."""
    import socket

    import uvicorn

    servers = []

    def start(*extra: str) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        srv = uvicorn.Server(command.server_config(parser.parse_args(["--db", world["url"], "--port", str(port), *extra])))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        servers.append((srv, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for srv, thread in servers:
        srv.should_exit = True
        thread.join(10)


def _live_login(base: str, username: str, password: str, headers: dict[str, str]) -> httpx.Response:
    import re

    with httpx.Client(base_url=base, follow_redirects=False, headers=headers) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return c.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_xunqin_web_sends_no_server_header_and_believes_no_forwarded_for_by_default(serve, world, h) -> None:  # type: ignore[no-untyped-def]
    base = serve()
    since = _last_audit_id(world["url"])
    r = _live_login(base, "admin", h.PASSWORD, {"X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 303 and "server" not in r.headers
    assert [e["ip"] for e in _audit(world["url"], since)] == ["127.0.0.1"]


def test_xunqin_web_believes_the_proxy_it_is_told_of(serve, world, h) -> None:  # type: ignore[no-untyped-def]
    base = serve("--forwarded-allow-ips", "127.0.0.1")
    since = _last_audit_id(world["url"])
    r = _live_login(base, "admin", h.PASSWORD, {"X-Forwarded-For": "198.51.100.20"})
    assert r.status_code == 303 and "server" not in r.headers
    assert [e["ip"] for e in _audit(world["url"], since)] == ["198.51.100.20"]
