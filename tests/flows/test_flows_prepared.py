"""The prepared-records snapshot kept between nights, on SQLite and a real PostgreSQL: nights that
use it end in exactly the state of nights that prepare everything afresh, and a snapshot that is
damaged, of another database or out of step with the database is rebuilt, never trusted."""

from __future__ import annotations

import logging
import shutil
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.flows import prepared, steps
from xunqin.store import db, candidates, decisions, runs, workstation
from xunqin_test_dbfixtures import snapshot

TOP_K = 5


@cache
def _generated():
    from xunqin.data.generate import generate

    return generate(80, 900, seed=11)


def _write(folder: Path, name: str, df: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / name, index=False, encoding="utf-8")


def _files(night: int, inbox: Path) -> None:
    """Night 1: the base; night 2: new records plus a changed station record and a changed
    report; night 3: a few more reports and a changed report."""
    gen = _generated()
    if night == 1:
        _write(inbox, "stations_1.csv", gen.stations.iloc[:60])
        _write(inbox, "reports_1.csv", gen.reports.iloc[:700])
    elif night == 2:
        stations = pd.concat([gen.stations.iloc[60:75], gen.stations.iloc[:1]], ignore_index=True)
        stations.loc[len(stations) - 1, "notes"] = "复核后补充信息"
        reports = pd.concat([gen.reports.iloc[700:850], gen.reports.iloc[1:2]], ignore_index=True)
        reports.loc[len(reports) - 1, "features"] = "右手缺一指"
        _write(inbox, "stations_2.csv", stations)
        _write(inbox, "reports_2.csv", reports)
    else:
        reports = pd.concat([gen.reports.iloc[850:], gen.reports.iloc[2:3]], ignore_index=True)
        reports.loc[len(reports) - 1, "features"] = "左耳后有痣"
        _write(inbox, "reports_3.csv", reports)
        _write(inbox, "stations_3.csv", gen.stations.iloc[75:])


def _night(url: str, inbox: Path, *, use_cache: bool, cache_dir: Path | None = None) -> dict:
    with db.sessions(url).begin() as s:
        run_id = runs.start_run(s, "nightly")
    archive, quarantine = steps.archive_dirs(inbox, None, None)
    for path in steps.list_inbox(inbox):
        out = steps.take_file(url, path, str(archive), str(quarantine), run_id)
        assert out["status"] == "taken"
    return steps.match_pending(url, run_id, TOP_K, cache_dir=str(cache_dir) if cache_dir else None, use_cache=use_cache)


def _decide_on_best(url: str) -> tuple[str, str]:
    """Confirm the best pair, then undo it (待定): both records go back to pending."""
    with db.sessions(url)() as s:
        queue = candidates.review_queue(s)
    best = queue.sort_values("score", ascending=False).iloc[0]
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, best.station_record_id, best.report_id, "确认", "reviewer-1")
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, best.station_record_id, best.report_id, "待定", "reviewer-1")
    return best.station_record_id, best.report_id


@cache
def _reference(folder: str) -> dict[int, dict]:
    """Three nights without the snapshot (everything prepared afresh each night), on SQLite."""
    url = f"sqlite:///{Path(folder) / 'reference.db'}"
    db.upgrade(url)
    inbox = Path(folder) / "inbox"
    states = {}
    for night in (1, 2, 3):
        _files(night, inbox)
        _night(url, inbox, use_cache=False)
        states[night] = snapshot(url)
        if night == 2:
            _decide_on_best(url)
    return states


@pytest.fixture(scope="session")
def reference_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("prepared-reference"))


def test_nights_using_the_snapshot_end_as_nights_preparing_everything(db_url: str, tmp_path: Path,
                                                                       reference_folder: str) -> None:
    reference = _reference(reference_folder)
    db.upgrade(db_url)
    inbox, cache_dir = tmp_path / "inbox", tmp_path / "cache"
    sources = []
    for night in (1, 2, 3):
        _files(night, inbox)
        summary = _night(db_url, inbox, use_cache=True, cache_dir=cache_dir)
        sources.append(summary["prepared"])
        assert snapshot(db_url) == reference[night], f"night {night}"
        if night == 2:
            _decide_on_best(db_url)  # old rows pending again: the snapshot has them, the DB says pending
    assert sources == ["built", "refreshed", "refreshed"]
    assert len(list(cache_dir.glob("prepared-*"))) == 1
    # a night with nothing new reuses the snapshot as it is and writes nothing
    again = _night(db_url, inbox, use_cache=True, cache_dir=cache_dir)
    assert again["prepared"] == "reused" and again["pending_stations"] == again["pending_reports"] == 0
    assert snapshot(db_url) == reference[3]


def _two_nights_sqlite(tmp_path: Path) -> tuple[str, Path, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    inbox = tmp_path / "inbox"
    _files(1, inbox)
    _night(url, inbox, use_cache=True)
    (path,) = (tmp_path / "x.db.cache").glob("prepared-*")  # the default place: beside the file
    _files(2, inbox)
    return url, inbox, path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_snapshot_is_rebuilt_with_a_warning(tmp_path: Path, reference_folder: str, damage: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    url, inbox, path = _two_nights_sqlite(tmp_path)
    (reports,) = path.glob("reports-*.arrow")  # the first night's: one part
    body = reports.read_bytes()
    reports.write_bytes({"garbage": b"not a snapshot" * 100, "truncated": body[: len(body) // 2], "empty": b""}[damage])
    with caplog.at_level(logging.WARNING, logger="xunqin.flows.prepared"):
        summary = _night(url, inbox, use_cache=True)
    assert summary["prepared"] == "built"
    assert any("not reused" in r.getMessage() for r in caplog.records)
    assert snapshot(url) == _reference(reference_folder)[2]
    assert prepared.snapshot_path(url, None, _instance(url)) == path
    (written,) = path.glob("reports-*.arrow")  # written anew, whole; the damaged file removed
    assert written != reports and not reports.exists() and written.stat().st_size > 1000


def _instance(url: str) -> str:
    with db.sessions(url)() as s:
        return workstation.instance_id(s)


def test_a_snapshot_of_another_database_is_not_used(tmp_path: Path, reference_folder: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The same cache folder for two databases (or a database re-created at the same URL)."""
    url, inbox, path = _two_nights_sqlite(tmp_path / "a")
    other = f"sqlite:///{tmp_path / 'b.db'}"
    db.upgrade(other)
    assert _instance(other) != _instance(url)
    foreign = prepared.snapshot_path(other, path.parent, _instance(other))
    shutil.copytree(path, foreign)  # a snapshot under the other database's name, holding this one's rows
    inbox_b = tmp_path / "inbox_b"
    _files(1, inbox_b)
    with caplog.at_level(logging.WARNING, logger="xunqin.flows.prepared"):
        summary = _night(other, inbox_b, use_cache=True, cache_dir=path.parent)
    assert summary["prepared"] == "built"
    assert any("another database" in r.getMessage() for r in caplog.records)
    assert snapshot(other) == _reference(reference_folder)[1]


def test_a_snapshot_out_of_step_with_the_database_is_rebuilt(tmp_path: Path, reference_folder: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A current version the snapshot does not know of below its high-water mark (e.g. the
    database restored from a backup taken between two nights) is caught by the row count."""
    url, inbox, path = _two_nights_sqlite(tmp_path)
    with db.engine(url).begin() as conn:
        victim = conn.execute(sa.text("SELECT max(id) FROM reports WHERE is_current")).scalar_one()
        conn.execute(sa.text("UPDATE reports SET is_current = 0 WHERE id = :id"), {"id": victim})
    with caplog.at_level(logging.WARNING, logger="xunqin.flows.prepared"):
        summary = _night(url, inbox, use_cache=True)
    assert summary["prepared"] == "built"
    assert any("out of step" in r.getMessage() for r in caplog.records)
    assert summary["open_reports"] == 700 + 150 - 1  # the row taken out is not matched


def test_the_cache_folder_defaults_beside_a_sqlite_file_and_to_the_user_cache_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prepared.default_cache_dir(f"sqlite:///{tmp_path / 'w.db'}") == tmp_path / "w.db.cache"
    assert prepared.default_cache_dir("sqlite://") is None
    assert prepared.default_cache_dir("sqlite:///:memory:") is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prepared.default_cache_dir("postgresql://u:secret@host/db") == tmp_path / "xdg" / "xunqin"
    path = prepared.snapshot_path("postgresql://u:secret@host/db", None, "abc")
    assert path == tmp_path / "xdg" / "xunqin" / "prepared-abc" and "secret" not in str(path)


def test_a_database_restored_from_a_backup_does_not_trust_the_newer_snapshot(
        tmp_path: Path, reference_folder: str, caplog: pytest.LogCaptureFixture) -> None:
    """Backup after night 1, night 2 runs (new snapshot), the database is restored: the snapshot
    holds rows the database no longer has, under the same instance id."""
    url, inbox, path = _two_nights_sqlite(tmp_path)
    db.dispose(url)
    backup = tmp_path / "backup.db"
    shutil.copy(tmp_path / "x.db", backup)
    kept = tmp_path / "inbox-copy"
    shutil.copytree(inbox, kept, ignore=shutil.ignore_patterns("archive", "quarantine"))
    assert _night(url, inbox, use_cache=True)["prepared"] == "refreshed"
    db.dispose(url)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"x.db{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, tmp_path / "x.db")
    with caplog.at_level(logging.WARNING, logger="xunqin.flows.prepared"):
        summary = _night(url, kept, use_cache=True)
    assert summary["prepared"] == "built"
    assert any("last recorded" in r.getMessage() for r in caplog.records)
    assert snapshot(url) == _reference(reference_folder)[2]


def test_a_snapshot_of_the_earlier_one_file_format_is_removed_when_the_new_one_is_written(
        tmp_path: Path, reference_folder: str) -> None:
    """A cache folder from before the Parquet snapshot: its file (personal data too) goes."""
    url, inbox, path = _two_nights_sqlite(tmp_path)
    old = path.with_name(path.name + ".npz")
    old.write_bytes(b"PK\x03\x04 an earlier snapshot")
    assert _night(url, inbox, use_cache=True)["prepared"] == "refreshed"
    assert not old.exists() and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert snapshot(url) == _reference(reference_folder)[2]


def test_a_snapshot_with_many_dropped_rows_is_built_afresh(tmp_path: Path, reference_folder: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Superseded versions leave dead vocabulary behind; past a share of dropped rows the
    snapshot is built again (here: at the first dropped row)."""
    url, inbox, path = _two_nights_sqlite(tmp_path)
    monkeypatch.setattr(prepared, "REBUILD_DROPPED_SHARE", 0.0)
    summary = _night(url, inbox, use_cache=True)  # night 2 changes a station record and a report
    assert summary["prepared"] == "built"
    assert snapshot(url) == _reference(reference_folder)[2]
    from xunqin.matching import snapshot as snap_mod

    assert snap_mod.load(path).dropped == 0


def test_score_floors_only_skip_pairs_that_could_not_enter_a_list(tmp_path: Path, reference_folder: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A night ranks an old station record's new pairs only when they beat the K-th score of
    its stored full list; the queue must end as when every new pair is ranked."""
    import numpy as np

    reference = _reference(reference_folder)  # computed with the floors
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    monkeypatch.setattr(steps, "_score_floor", lambda _s, ids, *_a: np.full(len(ids), -np.inf))
    inbox = tmp_path / "inbox"
    for night in (1, 2, 3):
        _files(night, inbox)
        _night(url, inbox, use_cache=True)
        assert snapshot(url) == reference[night], f"night {night}"
        if night == 2:
            _decide_on_best(url)
