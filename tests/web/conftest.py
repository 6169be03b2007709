"""Web fixtures: one database filled from the checked-in sample by the nightly steps (once per
session), copied per test; accounts for each role; a login helper for TestClient; a real server
and Debian's Chromium for the browser tests."""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "s3cret-pass"
STATION_A = "商丘市救助管理站"


def fill_from_inbox(url: str, inbox: Path) -> dict:
    """The nightly flow's own steps (ingest each inbox file, then match), without the Prefect engine."""
    from xunqin.flows import steps
    from xunqin.store import db, runs

    db.upgrade(url)
    with db.sessions(url).begin() as s:
        run_id = runs.start_run(s, "nightly")
    archive, quarantine = steps.archive_dirs(inbox, None, None)
    for path in steps.list_inbox(inbox):
        steps.take_file(url, path, str(archive), str(quarantine), run_id)
    summary = steps.match_pending(url, run_id)
    with db.sessions(url).begin() as s:
        runs.finish_run(s, run_id, "completed", {"match": {k: v for k, v in summary.items() if k != "timings"}})
    return summary


def _station_of(url: str, station: str | None = None, other_than: str | None = None) -> tuple[str, str]:
    """(station, station record id with the best candidate) for a station (or any other station)."""
    from xunqin.store import db

    with db.engine(url).connect() as con:
        rows = con.execute(sa.text(
            "SELECT c.station_record_id, s.normalized FROM candidates c JOIN station_records s "
            "ON s.record_id = c.station_record_id AND s.is_current ORDER BY c.score DESC")).all()
    import json

    for rid, norm in rows:
        st = (json.loads(norm) if isinstance(norm, str) else norm)["station"]
        if (station is None or st == station) and st != other_than:
            return st, rid
    raise AssertionError("no such station in the sample")


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Built once: the sample through the nightly steps, accounts of every role (argon2 is slow
    on purpose, so hashing once per session keeps the suite quick), station A and B with one
    person each that has candidates."""
    from xunqin.store import db, stations
    from xunqin.store.models import AuditLog
    from xunqin.web import auth

    root = tmp_path_factory.mktemp("websample")
    inbox = root / "inbox"
    inbox.mkdir()
    for name in ("stations.csv", "reports.csv"):
        shutil.copy(SAMPLE / name, inbox / name)
    path = root / "sample.db"
    url = f"sqlite:///{path}"
    summary = fill_from_inbox(url, inbox)
    assert summary["candidates_new"] > 0
    station_a, person_a = _station_of(url, STATION_A)
    station_b, person_b = _station_of(url, other_than=station_a)
    with db.sessions(url).begin() as s:
        auth.add_user(s, "staff_a", PASSWORD, "staff", station_a)
        auth.add_user(s, "staff_b", PASSWORD, "staff", station_b)
        auth.add_user(s, "reviewer", PASSWORD, "reviewer")
        auth.add_user(s, "reviewer2", PASSWORD, "reviewer")
        auth.add_user(s, "police", PASSWORD, "police")
        auth.add_user(s, "admin", PASSWORD, "admin")
        stations.seed_from_records(s)  # the sample's stations on the list
        # set-up, not a test's doing: the audit log starts empty as before
        s.execute(sa.delete(AuditLog).where(AuditLog.action == "station_added"))
    db.dispose(url)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file: copies are whole
    con.close()
    return {"path": path, "station_a": station_a, "person_a": person_a, "station_b": station_b, "person_b": person_b}


@pytest.fixture()
def world(sample_world: dict, tmp_path: Path) -> Iterator[dict]:
    """A fresh copy of the sample database for one test (url plus the ids above)."""
    from xunqin.store import db

    path = tmp_path / "web.db"
    shutil.copy(sample_world["path"], path)
    url = f"sqlite:///{path}"
    yield {**{k: v for k, v in sample_world.items() if k != "path"}, "url": url}
    db.dispose(url)  # engines are cached per URL: give the file handles back


@pytest.fixture()
def db_url(world: dict) -> str:
    return world["url"]


@pytest.fixture()
def app(world: dict):
    from xunqin.web.app import create_app

    return create_app(world["url"], migrate=False)  # the copy is at head already


with warnings.catch_warnings():  # starlette's notice about httpx2, once at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def client_for(app, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return TestClient(app, client=(ip, 50000), follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "form without a CSRF token"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Log in through the form; returns the response of the POST."""
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/"})


@pytest.fixture()
def as_user(app):  # type: ignore[no-untyped-def]
    """as_user("staff_a") -> a logged-in TestClient."""
    def make(username: str, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
        c = client_for(app, ip)
        r = login(c, username)
        assert r.status_code == 303, r.text[:300]
        return c

    return make


@pytest.fixture()
def h():  # type: ignore[no-untyped-def]
    """Helpers for the test modules (conftest itself is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(client_for=client_for, csrf_of=csrf_of, login=login, PASSWORD=PASSWORD, fill_from_inbox=fill_from_inbox)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(app):  # type: ignore[no-untyped-def]
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture()
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


