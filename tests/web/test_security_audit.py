"""The audit log: refused accesses and views of the export and of the log itself recorded, each
workstation entry with its client address, actions shown in Chinese, readable by admins only."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import sqlalchemy as sa

from xunqin.store import db
from xunqin.store.audit_log import ACTION_NAMES
from xunqin.web import auth

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "ingest", "matching", "normalizers", "store", "web")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _entries(url: str) -> list[tuple[str, str, str | None, dict | None]]:
    """The workstation's entries (the sample's night and account set-up left out)."""
    with db.engine(url).connect() as con:
        rows = con.execute(sa.text("SELECT actor, action, ip, detail FROM audit_log "
                                   "WHERE actor NOT IN ('nightly', 'admin-cli') ORDER BY id")).all()
    return [(a, c, ip, json.loads(d) if isinstance(d, str) else d) for a, c, ip, d in rows]


def test_views_decisions_exports_and_logins_carry_the_client_address(as_user, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a", "10.1.0.1")
    page = staff.get(f"/person/{world['person_a']}").text
    report = re.findall(r'name="report_id" value="([^"]+)"', page)[0]
    staff.post(f"/person/{world['person_a']}/decision", data={"csrf_token": _csrf(page), "report_id": report, "decision": "疑似"})
    police = as_user("police", "10.1.0.2")
    police.post("/export/download", data={"csrf_token": _csrf(police.get("/export").text), "fmt": "csv"})
    admin = as_user("admin", "10.1.0.3")
    admin.get("/audit")
    got = [(a, c, ip) for a, c, ip, _ in _entries(world["url"])]
    assert got == [
        ("staff_a", "login", "10.1.0.1"), ("staff_a", "person_view", "10.1.0.1"), ("staff_a", "decision", "10.1.0.1"),
        ("police", "login", "10.1.0.2"), ("police", "export_view", "10.1.0.2"), ("police", "export", "10.1.0.2"),
        ("admin", "login", "10.1.0.3"), ("admin", "audit_view", "10.1.0.3"),
    ]


def test_refused_accesses_are_recorded(app, as_user, h, world) -> None:  # type: ignore[no-untyped-def]
    staff = as_user("staff_a", "10.2.0.1")
    assert staff.get("/export").status_code == 403  # wrong role
    assert staff.get(f"/person/{world['person_b']}").status_code == 404  # another station's
    assert staff.post("/logout", data={"csrf_token": "forged"}).status_code == 403  # CSRF
    assert as_user("reviewer", "10.2.0.2").get("/audit").status_code == 403
    anonymous = h.client_for(app, "10.2.0.3")
    assert anonymous.post("/login", data={"username": "reviewer", "password": "x", "csrf_token": "guess"}).status_code == 403
    for _ in range(auth.PAIR_LIMIT + 1):
        h.login(anonymous, "police", "wrong-password")
    refused = [(a, c, ip, d) for a, c, ip, d in _entries(world["url"]) if c not in ("login", "login_failed")]
    assert refused == [
        ("staff_a", "access_denied", "10.2.0.1", {"reason": "role", "page": "/export", "method": "GET"}),
        ("staff_a", "access_denied", "10.2.0.1", {"reason": "other_station", "page": "/person/{record_id}", "method": "GET"}),
        ("staff_a", "csrf_failed", "10.2.0.1", {"page": "/logout"}),
        ("reviewer", "access_denied", "10.2.0.2", {"reason": "role", "page": "/audit", "method": "GET"}),
        ("-", "csrf_failed", "10.2.0.3", {"page": "/login"}),
        ("police", "login_throttled", "10.2.0.3", {"known_user": True, "rule": "pair"}),
    ]


def test_the_audit_log_is_for_admins_and_reads_in_chinese(as_user, world) -> None:  # type: ignore[no-untyped-def]
    reviewer = as_user("reviewer", "10.3.0.1")
    assert 'href="/audit"' not in reviewer.get("/queue").text
    reviewer.get(f"/person/{world['person_a']}")
    admin = as_user("admin", "10.3.0.2")
    page = admin.get("/audit").text
    assert 'href="/audit"' in page
    row = re.search(r'<tr data-action="person_view">(.*?)</tr>', page, flags=re.S).group(1)
    assert "<td>reviewer</td><td>10.3.0.1</td><td>查看受助人员</td>" in row and "候选数=" in row
    assert "person_view" not in re.sub(r'data-action="[^"]*"|value="[^"]*"', "", page)  # codes only in attributes
    assert '<option value="person_view" >查看受助人员</option>' in page
    filtered = admin.get("/audit", params={"action": "person_view"}).text
    assert filtered.count('<tr data-action="') == filtered.count('<tr data-action="person_view">') == 1


def _written_action_codes() -> dict[str, str]:
    """Every action code the source passes to audit_log.add (code -> file)."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit_log"):
                    assert len(node.args) >= 3 and isinstance(node.args[2], ast.Constant), \
                        f"{path}:{node.lineno}: the action of an audit entry is a literal code"
                    found[node.args[2].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_action_code_written_has_a_chinese_name() -> None:
    codes = _written_action_codes()
    assert {"login", "login_failed", "person_view", "decision", "export", "access_denied", "csrf_failed", "file_taken"} <= set(codes)
    missing = {c: where for c, where in codes.items() if c not in ACTION_NAMES}
    assert not missing, f"add these to store/audit_log.py ACTION_NAMES: {missing}"
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in ACTION_NAMES.values())
