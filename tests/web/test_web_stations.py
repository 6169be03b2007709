"""Stations are data: an admin-managed list; staff accounts and uploads name a station of it, an
unknown one is refused in Chinese with the known ones; the README's example works as written."""

from __future__ import annotations

import argparse
import re

import pytest
import sqlalchemy as sa

from xunqin.store import db, stations
from xunqin.web import command


@pytest.fixture()
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    u = f"sqlite:///{tmp_path / 'st.db'}"
    db.upgrade(u)
    yield u
    db.dispose(u)


@pytest.mark.parametrize("name, code, prefecture", [
    ("长春市救助管理站", "220100", "长春市"),
    ("北京市朝阳区救助管理站", "110105", "北京市"),
    ("恩施土家族苗族自治州救助管理站", "422800", "恩施土家族苗族自治州"),
    ("商水县救助站", "411623", "周口市"),
    ("白沙黎族自治县救助管理站", "469025", "海南省"),
    ("和田地区救助管理站", "653200", "和田地区"),
])
def test_code_and_prefecture_come_from_the_place_in_the_name(name, code, prefecture) -> None:  # type: ignore[no-untyped-def]
    assert stations.derive(name) == (code, prefecture)


@pytest.mark.parametrize("name", ["救助管理站", "阳光之家"])
def test_a_name_without_a_place_needs_code_and_prefecture(url, name) -> None:  # type: ignore[no-untyped-def]
    with db.sessions(url).begin() as s:
        with pytest.raises(ValueError, match="--code"):
            stations.add_station(s, name)
        assert stations.add_station(s, name, "X-01", "某市").code == "X-01"


def test_two_stations_of_one_city_get_distinct_codes(url) -> None:
    with db.sessions(url).begin() as s:
        a = stations.add_station(s, "长春市救助管理站")
        b = stations.add_station(s, "长春市未成年人救助保护中心")
        assert (a.code, b.code) == ("220100", "220100-2")
        with pytest.raises(ValueError, match="已在名单中"):
            stations.add_station(s, "长春市救助管理站")


@pytest.mark.parametrize("typed, suggested", [("长春救助站", "长春市救助管理站"), ("长春市救助管理站 ", None), ("", None)])
def test_an_unknown_station_is_refused_with_the_known_ones(url, typed, suggested) -> None:  # type: ignore[no-untyped-def]
    with db.sessions(url).begin() as s:
        for name in ("长春市救助管理站", "商丘市救助管理站", "郑州市救助管理站"):
            stations.add_station(s, name)
        if suggested is None and typed.strip():
            assert stations.require_known(s, typed) == typed.strip()
            return
        with pytest.raises(stations.UnknownStation) as info:
            stations.require_known(s, typed)
    text = str(info.value)
    assert "不在救助站名单中" in text and "已登记的救助站（3 个）" in text and "商丘市救助管理站" in text
    if suggested:
        assert f"您要找的是不是：{suggested}" in text


def _cli(*argv: str) -> int:
    from xunqin.flows.cli import main

    return main(list(argv))


def test_the_readme_user_add_example_works_on_the_demo_database(tmp_path, monkeypatch, capsys, h) -> None:  # type: ignore[no-untyped-def]
    """`make demo` (a night on the sample, then `xunqin station seed`), then the README's line."""
    import shutil
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if ln.startswith("xunqin user add "))
    argv = line.split("#")[0].split()[1:]
    assert "--db" in argv and "sqlite:///out/xunqin.db" in argv
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "out" / "inbox"
    inbox.mkdir(parents=True)
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    for name in ("stations.csv", "reports.csv"):
        shutil.copy(sample / name, inbox / name)
    url = "sqlite:///out/xunqin.db"
    h.fill_from_inbox(url, inbox)
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    assert "xunqin station seed --db $(DEMO_DB)" in makefile
    assert _cli("station", "seed", "--db", url) == 0
    monkeypatch.setenv(command.PASSWORD_ENV, "demo-password-1")
    assert _cli(*argv) == 0
    assert "已创建用户" in capsys.readouterr().out
    typo = [("长春救助站" if a == "长春市救助管理站" else a) for a in argv]
    typo[typo.index("add") + 1] = "li"
    assert _cli(*typo) == 2
    err = capsys.readouterr().err
    assert "不在救助站名单中" in err and "长春市救助管理站" in err
    db.dispose(url)


def test_station_command_adds_and_lists(url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert _cli("station", "list", "--db", url) == 0
    assert "名单是空的" in capsys.readouterr().out
    assert _cli("station", "add", "长春市救助管理站", "--db", url) == 0
    assert _cli("station", "add", "某某救助站", "--db", url) == 2
    assert _cli("station", "add", "某某救助站", "--code", "MM-1", "--prefecture", "某市", "--db", url) == 0
    capsys.readouterr()
    assert _cli("station", "list", "--db", url) == 0
    assert capsys.readouterr().out.splitlines() == ["220100\t长春市救助管理站\t长春市\t使用中", "MM-1\t某某救助站\t某市\t使用中"]


def test_admins_manage_the_list_in_the_browser(as_user, world) -> None:  # type: ignore[no-untyped-def]
    admin = as_user("admin")
    page = admin.get("/stations")
    assert page.status_code == 200 and world["station_a"] in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = admin.post("/stations/add", data={"csrf_token": token, "name": "长春市未成年人救助保护中心"})
    assert r.status_code == 303
    assert "长春市未成年人救助保护中心" in admin.get("/stations").text
    r = admin.post("/stations/add", data={"csrf_token": token, "name": world["station_a"]})
    assert r.status_code == 400 and "已在名单中" in r.text
    with db.sessions(world["url"])() as s:
        st = next(x for x in stations.list_stations(s) if x.name == world["station_a"])
    assert admin.post(f"/stations/{st.id}", data={"csrf_token": token, "active": "0"}).status_code == 303
    with db.sessions(world["url"])() as s:
        assert world["station_a"] not in stations.known_names(s)
        actions = s.execute(sa.text("SELECT action FROM audit_log WHERE entity = 'station' ORDER BY id")).scalars().all()
    assert actions[-2:] == ["station_added", "station_changed"]
    for who in ("reviewer", "staff_a", "police"):
        assert as_user(who).get("/stations").status_code == 403
    assert admin.post("/stations/add", data={"name": "x站"}).status_code == 403  # no CSRF token
    assert admin.post("/stations/99999", data={"csrf_token": token, "active": "1"}).status_code == 404


def test_user_add_refuses_an_unknown_station(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    u = f"sqlite:///{tmp_path / 'u.db'}"
    parser = argparse.ArgumentParser()
    command.add_user_arguments(parser)
    monkeypatch.setenv(command.PASSWORD_ENV, "very-secret-1")
    assert command.run_user(parser.parse_args(["--db", u, "add", "zhao", "--role", "staff", "--station", "长春市救助管理站"])) == 2
    assert "名单还是空的" in capsys.readouterr().err
    db.dispose(u)
