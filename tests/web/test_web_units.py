"""Pure pieces of the web app: labels, age bands, waterfall geometry, cursors, export safety,
account rules, and the ``xunqin user`` command."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
import sqlalchemy as sa

from xunqin.web import auth, command, export, labels, person, queue
from xunqin.web.app import _safe_next

EVIDENCE = {"prior_weight": -4.84, "name_level": "folded", "name_weight": 9.51, "gender_level": "same", "gender_weight": 0.92,
            "age_level": "else", "age_weight": -3.2, "dates_level": "years_5", "dates_weight": -0.11,
            "hometown_level": "null", "hometown_weight": 0.0, "evidence": "name=folded(+9.5)"}


@pytest.mark.parametrize("low, high, band", [
    (73.0, 79.0, "60-79"), (80, 89, "80+"), (5, 7, "0-17"), (17, 18, "0-17"), (18, 19, "18-39"), (39, 40, "18-39"),
    (40, 40, "40-59"), (59, 61, "60-79"), (None, None, "未知"), (None, 60, "未知"), (float("nan"), float("nan"), "未知"),
    ("60", "70", "60-79"), ("abc", "70", "未知"), (120, 130, "80+"), (float("inf"), 10, "未知"), (-5, 10, "未知"),
    (500, 600, "未知"), (0, 0, "未知"), (0, 1, "0-17"),
])
def test_age_band(low, high, band) -> None:  # type: ignore[no-untyped-def]
    assert labels.age_band(low, high) == band


@pytest.mark.parametrize("comparison, level, text", [
    ("name", "folded", "方言近音"), ("name", "exact", "姓名相同"), ("hometown", "county", "同县"),
    ("found_place", "km_30", "相距30公里内"), ("id_number", "tail", "尾号相同"), ("name", "null", "缺少信息"),
    ("name", None, "缺少信息"), ("name", "brand_new_level", "brand_new_level"), ("new_comparison", "x", "x"),
])
def test_level_label(comparison, level, text) -> None:  # type: ignore[no-untyped-def]
    assert labels.level_label(comparison, level) == text


@pytest.mark.parametrize("value, expected", [(1.5, 1.5), ("2.25", 2.25), (None, 0.0), ("x", 0.0), (float("nan"), 0.0),
                                             (float("inf"), 0.0), (-3, -3.0)])
def test_number(value, expected) -> None:  # type: ignore[no-untyped-def]
    assert labels.number(value) == expected


def test_evidence_summary_lists_known_comparisons_in_order_and_skips_missing_ones() -> None:
    text = labels.evidence_summary(EVIDENCE)
    assert text == "姓名：方言近音（+9.5）；性别：相同（+0.9）；年龄：不符（-3.2）；时间：五年内（-0.1）"
    assert labels.evidence_summary({}) == ""


@pytest.mark.parametrize("evidence", [EVIDENCE, {"prior_weight": 2.0}, {"prior_weight": -5, "x_weight": -50, "x_level": "else"},
                                      {"prior_weight": None, "name_weight": "bad"}, {}])
def test_waterfall_bars_stay_on_the_chart_and_end_at_the_score(evidence) -> None:  # type: ignore[no-untyped-def]
    bars, zero = person.waterfall(evidence)
    assert 0 <= zero <= 100
    assert bars[0].kind == "prior" and bars[-1].kind == "total"
    for b in bars:
        assert 0 <= b.left <= 100 and 0 < b.width and b.left + b.width <= 100.5
    total = sum(labels.number(evidence.get(k)) for k in evidence if k.endswith("_weight"))
    assert bars[-1].weight == pytest.approx(total)
    assert all(b.kind == ("pos" if b.weight > 0 else "neg" if b.weight < 0 else "zero") for b in bars[1:-1])


def test_field_rows_mark_agreement_from_weights_and_hide_phones() -> None:
    st_raw = {"name": "吴金甚", "estimated_age": "约60岁", "found_date": "2024-04-02"}
    st_norm = {"gender": "男", "found_date": "2024-04-02"}
    rp_raw = {"name": "吴金生", "aliases": "小吴", "birth_date": "1964", "missing_date": "2020-01-01", "contact_phone": "13800001111"}
    rp_norm = {"gender": "男", "birth_date": "1964-07-01", "missing_date": "2020-01-01"}
    rows = {r.label: r for r in person.field_rows(st_raw, st_norm, rp_raw, rp_norm, EVIDENCE, show_phone=False)}
    assert rows["姓名"].mark == "agree" and "小吴" in rows["姓名"].report
    assert rows["年龄"].mark == "disagree" and "救助时约 59 岁" in rows["年龄"].report
    assert rows["日期"].mark == "neutral" and "4.3 年" in rows["日期"].report
    assert rows["籍贯 / 户籍"].mark == "neutral"  # level null: nothing to compare
    assert "13800001111" not in rows["家属电话"].report
    shown = {r.label: r for r in person.field_rows(st_raw, st_norm, rp_raw, rp_norm, EVIDENCE, show_phone=True)}
    assert shown["家属电话"].report == "13800001111"


@pytest.mark.parametrize("current, pages, shown", [
    (1, 1, [1]), (1, 3, [1, 2, 3]), (1, 10, [1, 2, 3, None, 10]), (5, 10, [1, None, 3, 4, 5, 6, 7, None, 10]),
    (10, 10, [1, None, 8, 9, 10]), (4, 10, [1, 2, 3, 4, 5, 6, None, 10]),
])
def test_page_numbers_show_first_last_and_neighbours(current, pages, shown) -> None:  # type: ignore[no-untyped-def]
    assert queue.page_numbers(current, pages) == shown


@pytest.mark.parametrize("a, b, ok", [
    (dt.date(2025, 1, 1), dt.date(2025, 1, 1), True), (dt.date(2025, 1, 2), dt.date(2025, 1, 1), False),
    (dt.date(2020, 1, 1), dt.date(2025, 1, 1), False), (dt.date(2024, 1, 1), dt.date(2025, 12, 31), True),
    # Python's own date limits broke the day arithmetic (OverflowError, a 500): refused in range.
    (dt.date(9999, 12, 30), dt.date(9999, 12, 31), False), (dt.date(1, 1, 1), dt.date(1, 1, 2), False),
    (dt.date(2100, 12, 30), dt.date(2100, 12, 31), True), (dt.date(1900, 1, 1), dt.date(1900, 1, 2), True),
])
def test_day_range(a, b, ok) -> None:  # type: ignore[no-untyped-def]
    if not ok:
        with pytest.raises(ValueError):
            export.day_range(a, b)
        return
    start, end = export.day_range(a, b)
    assert start.utcoffset() == dt.timedelta(0) and start.hour == 16  # 00:00 Beijing = 16:00 UTC the day before
    assert (end - start).days == (b - a).days + 1


@pytest.mark.parametrize("path, expected", [
    ("/queue", "/queue"), ("/person/S1?x=1", "/person/S1?x=1"), ("", "/"), (None, "/"), ("//evil", "/"),
    ("http://evil", "/"), ("/\\evil", "/"), ("queue", "/"), ("/" + "a" * 600, "/"),
])
def test_safe_next(path, expected) -> None:  # type: ignore[no-untyped-def]
    assert _safe_next(path) == expected


@pytest.mark.parametrize("expected, given, ok", [("abc", "abc", True), ("abc", "abd", False), ("abc", "", False),
                                                 ("", "", False), (None, "abc", False), ("abc", None, False)])
def test_csrf_ok(expected, given, ok) -> None:  # type: ignore[no-untyped-def]
    assert auth.csrf_ok(expected, given) is ok


@pytest.mark.parametrize("password", ["", "short", "1234567", "x" * 1025])
def test_weak_or_absurd_passwords_are_refused(password) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        auth.hash_password(password)


def test_password_hash_verifies_only_the_password() -> None:
    stored = auth.hash_password("长城永不倒-2024")
    assert auth.verify_password(stored, "长城永不倒-2024")
    assert not auth.verify_password(stored, "长城永不倒-2025")
    assert not auth.verify_password("not-a-hash", "x")


@pytest.fixture()
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from xunqin.store import db

    u = f"sqlite:///{tmp_path / 'users.db'}"
    db.upgrade(u)
    return u


@pytest.mark.parametrize("username, role, station, ok", [
    ("zhang", "staff", "长春市救助管理站", True),
    ("zhang", "staff", None, False),  # staff need a station
    ("zhang", "staff", "   ", False),
    ("li", "reviewer", None, True),
    ("li", "reviewer", "长春市救助管理站", False),  # only staff belong to a station
    ("wang", "police", None, True),
    ("root", "superuser", None, False),
    ("", "admin", None, False),
    ("   ", "admin", None, False),
    ("x" * 101, "admin", None, False),
])
def test_add_user_rules(url, username, role, station, ok) -> None:  # type: ignore[no-untyped-def]
    from xunqin.store import db

    with db.sessions(url).begin() as s:
        if ok:
            assert auth.add_user(s, username, "password-123", role, station) > 0
        else:
            with pytest.raises(ValueError):
                auth.add_user(s, username, "password-123", role, station)


def test_user_command_adds_lists_and_disables(url, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from xunqin.store import db
    from xunqin.web.models import User

    parser = argparse.ArgumentParser()
    command.add_user_arguments(parser)
    monkeypatch.setenv(command.PASSWORD_ENV, "very-secret-1")
    with db.sessions(url).begin() as s:  # staff name a station of the list
        from xunqin.store import stations

        stations.add_station(s, "长春市救助管理站")
    assert command.run_user(parser.parse_args(["--db", url, "add", "zhao", "--role", "staff", "--station", "长春市救助管理站"])) == 0
    assert command.run_user(parser.parse_args(["add", "zhao", "--role", "reviewer", "--db", url])) == 2  # exists
    assert command.run_user(parser.parse_args(["--db", url, "add", "qian", "--role", "staff"])) == 2  # no station
    assert command.run_user(parser.parse_args(["--db", url, "list"])) == 0
    out = capsys.readouterr()
    assert "zhao\tstaff\t长春市救助管理站\t启用" in out.out and "very-secret-1" not in out.out + out.err
    assert command.run_user(parser.parse_args(["--db", url, "disable", "zhao"])) == 0
    with db.sessions(url)() as s:
        user = s.scalars(sa.select(User).where(User.username == "zhao")).one()
        assert not user.is_active and auth.verify_password(user.password_hash, "very-secret-1")
    with pytest.raises(SystemExit):
        parser.parse_args(["--db", url, "add", "sun", "--role", "boss"])


def test_web_command_arguments_default_to_loopback() -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.db_url, args.secure_cookies) == ("127.0.0.1", 8000, None, False)
    args = parser.parse_args(["--db", "sqlite:///x.db", "--port", "8081"])
    assert (args.db_url, args.port) == ("sqlite:///x.db", 8081)
