"""The search index the ingest keeps: a taken file's rows get the keys a rebuild from the stored
versions gives them, also when the index lagged behind before the file; on SQLite and on a
real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.data.generate import Generated, generate, write
from xunqin.flows import steps
from xunqin.ingest.read import read_table
from xunqin.ingest.tables import normalize_reports
from xunqin.store import db, records, search


@pytest.fixture
def url(db_url: str) -> str:
    db.upgrade(db_url)
    return db_url


def _index(url: str) -> list[tuple[str, str, str, str]]:
    with db.engine(url).connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.text('SELECT kind, record_id, key_type, "key" FROM search_keys')))


def _files(tmp_path: Path) -> dict[str, Path]:
    """A stations file, a first reports file (reports 0-299), and a second one: reports 200-249
    with another name, 250-299 as sent before, 300-399 new."""
    gen = generate(30, 400, seed=7)
    paths = write(Generated(gen.stations, gen.reports.iloc[:300], gen.truth), tmp_path / "first",
                  tables=("stations", "reports"))
    again = gen.reports.iloc[200:].copy()
    again.iloc[:50, again.columns.get_loc("name")] = "欧阳春生"
    paths["again"] = write(Generated(gen.stations.iloc[:0], again, gen.truth), tmp_path / "again", tables=("reports",))["reports"]
    return paths


def _take(url: str, path: Path, tmp_path: Path) -> dict:
    out = steps.take_file(url, str(path), str(tmp_path / "archive"), str(tmp_path / "quarantine"), None)
    assert out["status"] == "taken", out
    return out


def test_the_keys_a_taken_file_gets_are_those_of_a_rebuild(url: str, tmp_path: Path) -> None:
    paths = _files(tmp_path)
    for name in ("stations", "reports", "again"):
        _take(url, paths[name], tmp_path)
    taken = _index(url)
    with db.sessions(url).begin() as s:
        assert search.lag(s) == 0
        search.rebuild(s)
    assert _index(url) == taken
    renamed = {r for kind, r, key_type, key in taken if key_type == "name" and key == "欧阳春生"}
    assert len(renamed) == 50  # the new versions' keys
    assert {kind for kind, *_ in taken} == {"stations", "reports"}


def test_a_file_taken_while_the_index_lags_indexes_what_was_stored_before_it(url: str, tmp_path: Path) -> None:
    """A file stored without its keys (a crash between storing and indexing, or code that does
    not index): the next file taken indexes those rows too, not only its own."""
    paths = _files(tmp_path)
    _take(url, paths["stations"], tmp_path)
    raw = read_table(paths["reports"], "reports")
    normalized, rejects = normalize_reports(raw)
    with db.sessions(url).begin() as s:
        records.add_records(s, kind="reports", file_name="reports.csv", content_hash="lagging", raw=raw.data,
                            raw_rows=raw.source_row, normalized=normalized, rejects=rejects, run_id=None)
        assert search.lag(s) == 300
    _take(url, paths["again"], tmp_path)
    taken = _index(url)
    assert len({r for kind, r, *_ in taken if kind == "reports"}) == 400
    with db.sessions(url).begin() as s:
        search.rebuild(s)
    assert _index(url) == taken


def test_stored_rows_are_the_new_and_changed_rows(url: str, tmp_path: Path) -> None:
    paths = _files(tmp_path)
    _take(url, paths["reports"], tmp_path)
    raw = read_table(paths["again"], "reports")
    normalized, rejects = normalize_reports(raw)
    with db.sessions(url).begin() as s:
        outcome = records.add_records(s, kind="reports", file_name="again.csv", content_hash="again", raw=raw.data,
                                      raw_rows=raw.source_row, normalized=normalized, rejects=rejects, run_id=None)
    ids = normalized["report_id"].astype(str).to_numpy()
    assert (outcome.rows_new, outcome.rows_changed, outcome.rows_unchanged) == (100, 50, 50)
    stored = pd.Index(ids[list(outcome.stored_rows)])
    assert stored.is_unique and len(stored) == 150
    assert set(stored) == set(ids[:50]) | set(ids[100:])  # the renamed ones and the new ones


def test_a_page_cache_for_a_bulk_insert_is_given_back(url: str) -> None:
    with db.engine(url).connect() as conn:
        if conn.dialect.name != "sqlite":
            with db.sqlite_page_cache(conn, 1024):  # nothing to set elsewhere
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            return
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        with db.sqlite_page_cache(conn, 65_536):
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65_536
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before
        with pytest.raises(ZeroDivisionError), db.sqlite_page_cache(conn, 65_536):
            raise ZeroDivisionError
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before
