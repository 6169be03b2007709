"""The search index, the stations list and the family case on SQLite and a real PostgreSQL: the
sample taken by the night's steps, then searched, listed and matched."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.flows import steps
from xunqin.store import db, records, search, stations

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture()
def loaded(db_url, tmp_path):  # type: ignore[no-untyped-def]
    db.upgrade(db_url)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("stations.csv", "reports.csv"):
        shutil.copy(SAMPLE / name, inbox / name)
    for path in steps.list_inbox(inbox):
        steps.take_file(db_url, path, str(tmp_path / "archive"), str(tmp_path / "quarantine"), None)
    return db_url


def _current(url: str, table: str) -> list[dict]:
    with db.engine(url).connect() as con:
        rows = con.execute(sa.text(f"SELECT raw, normalized FROM {table} WHERE is_current")).all()
    return [{**(json.loads(r) if isinstance(r, str) else r), "_norm": json.loads(n) if isinstance(n, str) else n} for r, n in rows]


def test_the_ingest_indexes_what_it_stores(loaded) -> None:
    with db.sessions(loaded)() as s:
        assert search.lag(s) == 0
        counts = dict(s.execute(sa.select(search.SearchKey.kind, sa.func.count(sa.distinct(search.SearchKey.record_id)))
                                .group_by(search.SearchKey.kind)).all())
    assert counts == {"stations": 300, "reports": 3000}


def test_searches_agree_with_the_records(loaded) -> None:
    st = _current(loaded, "station_records")
    rp = _current(loaded, "reports")
    named = next(r for r in st if r["_norm"].get("name_kind") == "full")
    with_id = next(r for r in rp if r.get("id_number"))
    with db.sessions(loaded)() as s:
        hits = search.find(s, search.Query(name=named["name"])).hits
        assert ("stations", named["record_id"], 0) in [(h.kind, h.record_id, h.level) for h in hits]
        hits = search.find(s, search.Query(id_text=with_id["id_number"][-4:])).hits
        assert ("reports", with_id["report_id"]) in [(h.kind, h.record_id) for h in hits]
        found = search.find(s, search.Query(place="河南", date_from=dt.date(2026, 1, 1), kinds=("stations",)), limit=500)
    expected = {r["record_id"] for r in st if (r["_norm"].get("found_date") or "") >= "2026-01-01" and any(
        c.startswith("41") for c in f"{r['_norm'].get('hometown_codes') or ''}|{r['_norm'].get('found_codes') or ''}".split("|") if c)}
    assert {h.record_id for h in found.hits} == expected and found.total == len(expected) and expected


def test_a_new_version_replaces_its_keys(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = next(r for r in _current(loaded, "station_records") if r["_norm"].get("name_kind") == "full")
    raw = {k: v for k, v in rec.items() if k != "_norm"}
    path = tmp_path / "again" / "stations-again.csv"
    path.parent.mkdir()
    pd.DataFrame([{**raw, "name": "欧阳春生"}]).to_csv(path, index=False)
    steps.take_file(loaded, str(path), str(tmp_path / "a2"), str(tmp_path / "q2"), None)
    with db.sessions(loaded)() as s:
        keys = set(s.scalars(sa.select(search.SearchKey.key).where(search.SearchKey.record_id == rec["record_id"],
                                                                      search.SearchKey.key_type == "name")))
    assert keys == {"欧阳春生"}


def test_the_stations_list(loaded) -> None:
    with db.sessions(loaded).begin() as s:
        added, unplaced = stations.seed_from_records(s)
        assert len(added) == 185 and not unplaced
        assert stations.require_known(s, "长春市救助管理站") == "长春市救助管理站"
        with pytest.raises(stations.UnknownStation, match="长春市救助管理站"):
            stations.require_known(s, "长春救助站")
        assert search.counts_by_station(s)["长春市救助管理站"] == 1


def test_a_family_case_is_ranked_saved_and_matched_by_the_next_night(loaded) -> None:
    from xunqin.web import family

    steps.match_pending(loaded, run_id=None)
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    reports = pd.read_csv(SAMPLE / "reports.csv", dtype=str, keep_default_na=False).set_index("report_id")
    pair = truth[truth["name_form"] == "homophone"].iloc[0]
    values = {key: reports.loc[pair.report_id].get(column, "") for key, (column, _, _) in family.FIELDS.items()}
    with db.sessions(loaded).begin() as s:
        case = family.read_case(values, family.new_report_id(s))
        ranking = family.rank_case(s, case, station=None, full_ids=False)
        assert ranking.shown[0].station_record_id == pair.station_record_id
        family.save_case(s, case, "reviewer")
    with db.sessions(loaded)() as s:
        pending = records.pending_row_ids(s, "reports")
        assert len(pending) == 1
    night = steps.match_pending(loaded, run_id=None)
    assert night["pending_reports"] == 1
    with db.sessions(loaded)() as s:
        assert len(records.pending_row_ids(s, "reports")) == 0
        rows = s.execute(sa.text("SELECT report_id, evidence FROM candidates WHERE station_record_id = :s"),
                         {"s": pair.station_record_id}).all()
    evidence = [json.loads(e) if isinstance(e, str) else e for _, e in rows]
    assert any(rid == case.report_id or case.report_id in str(ev.get("duplicate_report_ids") or "") for (rid, _), ev in zip(rows, evidence))


def test_the_search_index_command_rebuilds_the_index(loaded, capsys) -> None:  # type: ignore[no-untyped-def]
    from xunqin.flows.cli import main

    with db.sessions(loaded).begin() as s:
        s.execute(sa.delete(search.SearchKey))
    assert main(["search-index", "--rebuild", "--db", loaded]) == 0
    assert "救助站记录 300 条、寻人启事 3000 条已建索引" in capsys.readouterr().out
    with db.sessions(loaded)() as s:
        assert search.lag(s) == 0
        assert s.scalar(sa.select(sa.func.count(sa.distinct(search.SearchKey.record_id)))) == 3300
