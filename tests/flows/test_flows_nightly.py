"""Nightly flows end to end (Prefect test harness) on SQLite and on a real PostgreSQL:
fills the database, idempotent, quarantines a corrupt file, resumes a killed match,
keeps a rejected pair rejected."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.flows import cli, steps
from xunqin.flows.nightly import nightly
from xunqin.store import db, candidates, decisions, model_versions, records
from xunqin_test_dbfixtures import count, snapshot

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
TOP_K = 5


@cache
def _generated():
    from xunqin.data.generate import generate

    return generate(90, 700, seed=7)


def _write(folder: Path, name: str, df: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def _night1(inbox: Path) -> None:
    gen = _generated()
    _write(inbox, "stations_day1.csv", gen.stations.iloc[:70])
    _write(inbox, "reports_day1.csv", gen.reports.iloc[:600])


def _night2(inbox: Path, change: dict[str, str] | None = None) -> None:
    """New station records and reports, plus one changed station record and one changed report."""
    gen = _generated()
    stations = pd.concat([gen.stations.iloc[70:], gen.stations.iloc[:1]], ignore_index=True)
    stations.loc[len(stations) - 1, "notes"] = "复核后补充信息"
    reports = pd.concat([gen.reports.iloc[600:], gen.reports.iloc[:1]], ignore_index=True)
    reports.loc[len(reports) - 1, "features"] = "右手缺一指"
    for rec_id, note in (change or {}).items():
        stations = pd.concat([stations, gen.stations[gen.stations["record_id"] == rec_id]], ignore_index=True)
        stations.loc[len(stations) - 1, "notes"] = note
    _write(inbox, "stations_day2.csv", stations.drop_duplicates("record_id", keep="last"))
    _write(inbox, "reports_day2.csv", reports)


def _run(inbox: Path, url: str) -> dict:
    return nightly(inbox=str(inbox), db_url=url, top_k=TOP_K)


def _queue(url: str) -> pd.DataFrame:
    with db.sessions(url)() as s:
        return candidates.review_queue(s)


def test_full_night_on_the_sample_fills_the_database_and_a_second_night_changes_nothing(db_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("stations.csv", "reports.csv"):
        shutil.copy(SAMPLE / name, inbox / name)
    summary = _run(inbox, db_url)

    assert count(db_url, "station_records") == 300 and count(db_url, "reports") == 3000
    assert count(db_url, "source_files", "WHERE status = 'taken'") == 2
    assert count(db_url, "models", "WHERE is_active") == 1
    queue = _queue(db_url)
    assert 0 < len(queue) <= 300 * TOP_K
    assert (queue.groupby("station_record_id")["rank"].apply(lambda r: sorted(r) == list(range(1, len(r) + 1)))).all()
    assert summary["ingest"]["taken"] == 2 and summary["match"]["candidates_new"] == len(queue)
    assert summary["match"]["strong_new"] > 0
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []  # everything archived
    assert sorted(p.name for p in (inbox / "archive").rglob("*.csv")) == ["reports.csv", "stations.csv"]
    # The truth: most true pairs of the sample are in the queue.
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    found = truth.merge(queue, on=["station_record_id", "report_id"])
    assert len(found) / len(truth) > 0.8
    with db.engine(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM runs WHERE flow = 'nightly'")).scalar_one() == "completed"

    before = snapshot(db_url)
    again = _run(inbox, db_url)  # nothing new in the inbox
    assert again["ingest"]["taken"] == 0 and again["match"]["pending_stations"] == 0
    assert snapshot(db_url) == before
    # The same files dropped again (a station re-sends yesterday's export): seen, nothing changes.
    for name in ("stations.csv", "reports.csv"):
        shutil.copy(SAMPLE / name, inbox / name)
    third = _run(inbox, db_url)
    assert third["ingest"]["seen"] == 2 and third["ingest"]["taken"] == 0
    assert snapshot(db_url) == before


CORRUPT = [
    ("stations_broken.csv", "编号,姓名,性别\nS9,张三,男\n".encode("utf-8"), "救助站"),  # a required column missing
    ("garbage.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50, "XLSX"),
    ("empty.csv", b"", "empty"),
    ("utf16.csv", "编号,救助站,救助日期\nS1,某站,2023-01-01\n".encode("utf-16"), "UTF-16"),
]


def test_corrupt_files_are_quarantined_and_the_others_are_taken(db_url: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    inbox = tmp_path / "inbox"
    _night1(inbox)
    for name, content, _ in CORRUPT:
        (inbox / name).write_bytes(content)
    # Through `xunqin nightly --inbox DIR --db URL`, as an operator runs a night by hand.
    assert cli.main(["nightly", "--inbox", str(inbox), "--db", db_url, "--top-k", str(TOP_K)]) == 0
    summary = json.loads(capsys.readouterr().out)

    assert summary["ingest"]["taken"] == 2 and summary["ingest"]["quarantined"] == len(CORRUPT)
    assert count(db_url, "station_records") == 70 and count(db_url, "reports") == 600
    assert len(_queue(db_url)) > 0
    for name, _, reason_part in CORRUPT:
        parked = list((inbox / "quarantine").rglob(name))
        assert len(parked) == 1, name
        reason = parked[0].with_name(name + ".reason.txt").read_text(encoding="utf-8")
        assert reason_part in reason, (name, reason)
        with db.engine(db_url).connect() as conn:
            row = conn.execute(sa.text("SELECT status, reason FROM source_files WHERE file_name = :n"), {"n": name}).one()
        assert row[0] == "quarantined" and reason_part in row[1]
        assert "张三" not in row[1] and "张三" not in reason  # the reason names columns, not values
        assert not (inbox / name).exists()


@cache
def _reference_state(folder: str) -> dict:
    """Two uninterrupted nights on SQLite (computed once; compared by value on both backends)."""
    ref_url = f"sqlite:///{Path(folder) / 'reference.db'}"
    ref_inbox = Path(folder) / "ref_inbox"
    _night1(ref_inbox)
    _run(ref_inbox, ref_url)
    _night2(ref_inbox)
    _run(ref_inbox, ref_url)
    return snapshot(ref_url)


@pytest.fixture(scope="session")
def reference_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("reference"))


def test_a_match_killed_midway_and_run_again_ends_as_an_uninterrupted_run(db_url: str, tmp_path: Path, reference_folder: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _reference_state(reference_folder)
    inbox = tmp_path / "inbox"
    _night1(inbox)
    _run(inbox, db_url)
    _night2(inbox)
    real_mark = records.mark_matched
    calls = {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        real_mark(*args, **kwargs)  # some writes done: candidates and the first marks
        raise RuntimeError("simulated kill in the middle of match")

    monkeypatch.setattr(records, "mark_matched", killed)
    with pytest.raises(RuntimeError):
        _run(inbox, db_url)
    assert calls["n"] == 1
    monkeypatch.setattr(records, "mark_matched", real_mark)
    with db.engine(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM runs WHERE flow = 'nightly' ORDER BY id DESC")).first()[0] == "failed"
    assert count(db_url, "station_records", "WHERE matched_run_id IS NULL") > 0  # the kill undid the marks

    _run(inbox, db_url)
    assert snapshot(db_url) == reference


def test_a_rejected_pair_stays_rejected_and_a_confirmed_person_leaves(db_url: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _night1(inbox)
    _run(inbox, db_url)
    queue = _queue(db_url)
    firsts = queue[queue["rank"] == 1].sort_values("score", ascending=False)
    rejected = firsts.iloc[0]
    confirmed = firsts.iloc[1]
    with db.sessions(db_url).begin() as s:
        decisions.record_decision(s, rejected.station_record_id, rejected.report_id, "排除", "reviewer-1")
        decisions.record_decision(s, confirmed.station_record_id, confirmed.report_id, "确认", "reviewer-1")

    # New data, including a changed version of the rejected pair's station record.
    _night2(inbox, change={rejected.station_record_id: "家属再次来访补充信息"})
    summary = _run(inbox, db_url)
    assert summary["match"]["pending_stations"] >= 21  # 20 new + changed ones
    queue = _queue(db_url)
    pairs = set(zip(queue["station_record_id"], queue["report_id"]))
    assert (rejected.station_record_id, rejected.report_id) not in pairs
    assert rejected.station_record_id in set(queue["station_record_id"])  # its other candidates remain
    others = queue[(queue["station_record_id"] == confirmed.station_record_id) | (queue["report_id"] == confirmed.report_id)]
    assert others.empty
    assert count(db_url, "station_records", f"WHERE record_id = '{rejected.station_record_id}'") == 2  # versions kept


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["b.csv", "a.xlsx", ".hidden.csv", "~$a.xlsx", "up.part", "x.csv.reason.txt"], ["a.xlsx", "b.csv"]),
        ([], []),
        (["寻人登记.csv"], ["寻人登记.csv"]),
    ],
)
def test_inbox_listing_skips_temporary_files(tmp_path: Path, names: list[str], expected: list[str]) -> None:
    (tmp_path / "sub").mkdir()
    for n in names:
        (tmp_path / n).write_text("x", encoding="utf-8")
    assert sorted(Path(p).name for p in steps.list_inbox(tmp_path)) == expected


@pytest.mark.parametrize(
    ("name", "header", "kind"),
    [
        ("a.csv", "record_id,station,found_date\nS1,某站,2023-01-01\n", "stations"),
        ("report_a.csv", "编号,救助站,救助日期\nS1,某站,2023-01-01\n", "stations"),  # header wins over the name
        ("a.csv", "编号,姓名,走失日期\nR1,王五,2020-01-01\n", "reports"),
        ("stations.csv", "report_id,name,missing_date\nR1,王五,2020-01-01\n", "reports"),
    ],
)
def test_file_kind_is_sniffed_from_the_header(tmp_path: Path, name: str, header: str, kind: str) -> None:
    path = tmp_path / name
    path.write_text(header, encoding="utf-8")
    assert steps.sniff_kind(path)[0] == kind


def test_a_file_of_neither_kind_is_refused_naming_both(tmp_path: Path) -> None:
    from xunqin.ingest import FileRefused

    path = tmp_path / "x.csv"
    path.write_text("编号,姓名\n1,王五\n", encoding="utf-8")
    with pytest.raises(FileRefused, match="neither a stations file"):
        steps.sniff_kind(path)


def test_a_sqlite_night_ends_with_its_rows_in_the_database_file(tmp_path: Path) -> None:
    """Bulk writes leave their WAL checkpoint to a background thread; the run waits for it, so a
    copy of the database file alone (what a plain file backup takes) holds the whole night."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    inbox = tmp_path / "inbox"
    _night1(inbox)
    _run(inbox, url)
    live = {t: count(url, t) for t in ("station_records", "reports", "candidates")}
    assert live["candidates"] > 0
    shutil.copy(tmp_path / "x.db", tmp_path / "copy.db")  # without x.db-wal
    copy_url = f"sqlite:///{tmp_path / 'copy.db'}"
    assert {t: count(copy_url, t) for t in live} == live
    db.dispose(copy_url)


def _batch_queue(url: str) -> pd.DataFrame:
    """What a plain batch match (no snapshot, no focus) of every current record gives with the
    stored model: the reference a re-match of everything must reach."""
    from xunqin.matching.model import Model
    from xunqin.matching.pipeline import match

    with db.sessions(url)() as s:
        frames = {kind: records.load_versions(s, kind).frame for kind in ("stations", "reports")}
        model = Model.from_dict(model_versions.active_model(s)[1])
    out = match(frames["stations"], frames["reports"], model=model, top_k=TOP_K).candidates
    return out[["station_record_id", "report_id", "rank", "score"]]


def test_rematch_all_refreshes_the_scores_a_night_of_new_reports_left_stale(db_url: str, tmp_path: Path) -> None:
    """Night 2's new reports make some names more common; pairs scored on night 1 keep night 1's
    weights. A night with --rematch-all ranks everything again, as a batch match would."""
    inbox = tmp_path / "inbox"
    _night1(inbox)
    _run(inbox, db_url)
    _night2(inbox)
    _run(inbox, db_url)
    key = ["station_record_id", "report_id"]
    want = _batch_queue(db_url).set_index(key)
    stale = _queue(db_url).set_index(key)[["rank", "score"]]
    both = stale.join(want, rsuffix="_batch", how="inner")
    assert (both["score"] != both["score_batch"]).any(), "night 2 should leave some stored scores stale"

    summary = nightly(inbox=str(inbox), db_url=db_url, top_k=TOP_K, rematch_all=True)
    assert summary["put_back"]["stations"] == count(db_url, "station_records", "WHERE is_current")
    assert summary["match"]["pending_reports"] == count(db_url, "reports", "WHERE is_current")
    got = _queue(db_url).set_index(key)[["rank", "score"]]
    assert sorted(got.index) == sorted(want.index)
    joined = got.join(want, rsuffix="_batch")
    assert (joined["rank"] == joined["rank_batch"]).all()
    assert (joined["score"] - joined["score_batch"]).abs().max() < 1e-9
    before = snapshot(db_url)
    _run(inbox, db_url)  # and the next ordinary night has nothing to do
    assert snapshot(db_url) == before


def test_nightly_command_takes_rematch_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    monkeypatch.setattr("xunqin.flows.nightly.nightly", lambda **kw: seen.update(kw) or {})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert cli.main(["nightly", "--inbox", str(inbox), "--rematch-all"]) == 0
    assert seen["rematch_all"] is True
    assert cli.main(["nightly", "--inbox", str(inbox)]) == 0
    assert seen["rematch_all"] is False


# (module, function, which call raises): the night is killed there, after that call's work
KILL_POINTS = [
    ("records", "add_records", 2),  # the second inbox file of night 2 half taken
    ("candidates", "apply_candidates", 1),  # the candidates written, the marks not yet
    ("runs", "finish_run", 1),  # everything committed, the run row not yet closed
    ("locks", "_write_row", 1),  # the lock taken, nothing else done
]


@pytest.mark.parametrize("module, function, nth", KILL_POINTS, ids=[f"{m}.{f}" for m, f, _ in KILL_POINTS])
def test_a_night_killed_at_any_step_and_run_again_ends_as_an_uninterrupted_one(
        db_url: str, tmp_path: Path, reference_folder: str, monkeypatch: pytest.MonkeyPatch,
        module: str, function: str, nth: int) -> None:
    import importlib

    reference = _reference_state(reference_folder)
    inbox = tmp_path / "inbox"
    _night1(inbox)
    _run(inbox, db_url)
    _night2(inbox)
    target = importlib.import_module(f"xunqin.store.{module}")
    real = getattr(target, function)
    calls = {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        if calls["n"] == nth:
            raise KeyboardInterrupt(f"killed after {function}")  # as a signal would: not an Exception
        return out

    monkeypatch.setattr(target, function, killed)
    with pytest.raises(KeyboardInterrupt):
        _run(inbox, db_url)
    assert calls["n"] >= nth
    monkeypatch.setattr(target, function, real)
    _run(inbox, db_url)  # what the killed night committed stays; the rest is done now
    assert snapshot(db_url) == reference
