"""Workstation database: migrations, versioned records, decisions and the candidate queue,
on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.ingest.read import read_table
from xunqin.ingest.tables import normalize_reports, normalize_stations
from xunqin.store import db, candidates, decisions, frames, model_versions, records, runs
from xunqin.store.models import Candidate
from xunqin_test_dbfixtures import count

STATION_HEADER = "record_id,station,name,gender,estimated_age,found_date,found_place,hometown,dialect,height_cm,features,id_number,notes\n"
REPORT_HEADER = "report_id,source,name,aliases,gender,birth_date,age_at_missing,id_number,missing_date,missing_place,hometown,height_cm,features,contact_phone\n"
S1 = "S1,长春市救助管理站,王建国,男,60多岁,2023-05-01,长春市朝阳区,河南周口,河南口音,165cm,左眉有疤,,\n"
S1_CHANGED = "S1,长春市救助管理站,王建国,男,60多岁,2023-05-01,长春市朝阳区,河南周口,河南口音,165cm,左眉有疤,,自述身份证尾号1234\n"
S2 = "S2,长春市救助管理站,无名氏,女,约70岁,2023/5/2,长春站,,东北口音,,老年痴呆,,\n"
S3 = "S3,郑州市救助管理站,小红,女,十来岁,20230503,郑州市金水区,,,1.4米,聋哑,,\n"
R1 = "R1,公安,王建国,国子,男,1962年,,,2022-11-01,周口市商水县,河南省周口市商水县,165,左眉毛处有疤痕,13800000000\n"


def _store(url: str, tmp_path: Path, kind: str, body: str, name: str) -> records.FileOutcome:
    path = tmp_path / name
    path.write_text((STATION_HEADER if kind == "stations" else REPORT_HEADER) + body, encoding="utf-8")
    raw = read_table(path, kind)  # type: ignore[arg-type]
    df, rejects = (normalize_stations if kind == "stations" else normalize_reports)(raw)
    with db.sessions(url).begin() as s:
        return records.add_records(s, kind=kind, file_name=name, content_hash=records.row_hash({"file": name, "body": body}), raw=raw.data,
                                raw_rows=raw.source_row, normalized=df, rejects=rejects, run_id=None)


@pytest.fixture
def url(db_url: str) -> str:
    db.upgrade(db_url)
    return db_url


# --------------------------------------------------------------------------- schema


def test_migration_creates_every_table_and_is_repeatable(url: str) -> None:
    assert db.current_revision(url) == db.head_revision() is not None
    db.upgrade(url)  # a second upgrade is a no-op, not an error
    names = set(sa.inspect(db.engine(url)).get_table_names())
    assert {"runs", "source_files", "station_records", "reports", "rejects", "models", "candidates", "decisions",
            "audit_log", "alembic_version"} <= names


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        (None, None, "sqlite:///xunqin.db"),
        (None, "postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////tmp/a.db", "postgresql://u@h/db", "sqlite:////tmp/a.db"),
        ("", "sqlite:///b.db", "sqlite:///b.db"),
        (None, "", "sqlite:///xunqin.db"),
    ],
)
def test_database_url_precedence(monkeypatch: pytest.MonkeyPatch, given: str | None, env: str | None, expected: str) -> None:
    if env is None:
        monkeypatch.delenv(db.URL_ENV, raising=False)
    else:
        monkeypatch.setenv(db.URL_ENV, env)
    assert db.database_url(given) == expected


# --------------------------------------------------------------------------- hashing and JSON


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"name": "王建国", "x": "1"}, {"x": "1", "name": "王建国"}, True),  # key order does not matter
        ({"name": "王建国"}, {"name": "王建国 "}, False),  # any text change is a new version
        ({"name": None}, {"name": ""}, False),
        ({"name": "王建国"}, {"name": "王建國"}, False),
        ({"notes": "a" * 5000}, {"notes": "a" * 5000}, True),
        ({}, {}, True),
    ],
)
def test_row_hash(a: dict, b: dict, same: bool) -> None:
    assert (records.row_hash(a) == records.row_hash(b)) is same
    assert len(records.row_hash(a)) == 64


@pytest.mark.parametrize("kind", ["stations", "reports"])
def test_normalized_rows_round_trip_through_json(tmp_path: Path, kind: str) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / f"{kind}.csv"
    raw = read_table(sample, kind)  # type: ignore[arg-type]
    df, _ = (normalize_stations if kind == "stations" else normalize_reports)(raw)
    df = df.head(200)
    back = frames.frame_from_json(kind, frames.jsonable_frame(df))
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True), check_dtype=True)


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("files", "expected_versions", "expected_counts"),
    [
        ([S1 + S2], {"S1": 1, "S2": 1}, [(2, 0, 0)]),
        ([S1 + S2, S1 + S2], {"S1": 1, "S2": 1}, [(2, 0, 0), (0, 0, 2)]),  # same content: nothing new
        ([S1 + S2, S1_CHANGED], {"S1": 2, "S2": 1}, [(2, 0, 0), (0, 1, 0)]),  # changed: version 2
        ([S1, S1_CHANGED, S1], {"S1": 3}, [(1, 0, 0), (0, 1, 0), (0, 1, 0)]),  # changed back: version 3
        ([S1, S2 + S3], {"S1": 1, "S2": 1, "S3": 1}, [(1, 0, 0), (2, 0, 0)]),
    ],
)
def test_changed_content_is_a_new_version_and_the_old_is_kept(url: str, tmp_path: Path, files: list[str],
                                                               expected_versions: dict[str, int], expected_counts: list[tuple]) -> None:
    for n, body in enumerate(files):
        out = _store(url, tmp_path, "stations", body, f"f{n}.csv")
        assert (out.rows_new, out.rows_changed, out.rows_unchanged) == expected_counts[n]
    with db.engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT record_id, version, is_current FROM station_records")).all()
    current = {r[0]: r[1] for r in rows if r[2]}
    assert current == expected_versions
    assert len(rows) == sum(expected_versions.values())  # every older version is still there
    assert sum(1 for r in rows if r[2]) == len(expected_versions)  # exactly one current per id


def test_rejects_are_stored_with_their_file(url: str, tmp_path: Path) -> None:
    bad = "S9,长春市救助管理站,某人,男,六百岁,2023-05-01,,,,9米,,,\n"
    out = _store(url, tmp_path, "stations", bad, "bad.csv")
    assert out.rejects >= 2
    assert count(url, "rejects") == out.rejects
    assert count(url, "station_records") == 1  # the row keeps its other fields


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("decision", ["疑似", "排除", "待定", "确认"])
def test_every_decision_is_stored_and_audited(url: str, decision: str) -> None:
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R1", decision, "reviewer-1", note="看过照片")
    with db.sessions(url)() as s:
        latest = decisions.latest_decisions(s)
        assert latest.to_dict("records") == [{"station_record_id": "S1", "report_id": "R1", "decision": decision}]
    assert count(url, "audit_log", "WHERE action = 'decision'") == 1


@pytest.mark.parametrize(("decision", "reviewer"), [("同意", "r"), ("", "r"), ("排除 ", "r"), ("EXCLUDE", "r"), ("排除", ""), ("排除", "  ")])
def test_bad_decisions_are_refused(url: str, decision: str, reviewer: str) -> None:
    with db.sessions(url).begin() as s, pytest.raises(ValueError):
        decisions.record_decision(s, "S1", "R1", decision, reviewer)


def test_the_latest_decision_is_in_force(url: str) -> None:
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R1", "待定", "a")
        decisions.record_decision(s, "S1", "R1", "排除", "b")
        decisions.record_decision(s, "S2", "R1", "确认", "b")
    with db.sessions(url)() as s:
        assert decisions.excluded_pairs(s).to_dict("records") == [{"station_record_id": "S1", "report_id": "R1"}]
        assert decisions.closed_ids(s) == ({"S2"}, {"R1"})
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R1", "待定", "c")  # undone
    with db.sessions(url)() as s:
        assert decisions.excluded_pairs(s).empty


# --------------------------------------------------------------------------- candidate queue


def _rows(*pairs: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame({
        "station_record_id": [p[0] for p in pairs], "report_id": [p[1] for p in pairs],
        "rank": [0] * len(pairs), "score": [p[2] for p in pairs], "probability": [min(0.999, p[2] / 10) for p in pairs],
        "name_level": ["exact"] * len(pairs), "evidence": ["name=exact"] * len(pairs),
    })


def _apply(url: str, fresh: pd.DataFrame, stations=(), reports=(), top_k: int = 2) -> candidates.CandidateChanges:
    with db.sessions(url).begin() as s:
        return candidates.apply_candidates(s, fresh, rematched_stations=stations, rematched_reports=reports, top_k=top_k,
                                     model_version="m1", run_id=None)


def _queue(url: str) -> list[tuple[str, str, int]]:
    with db.sessions(url)() as s:
        q = candidates.review_queue(s)
    return list(zip(q["station_record_id"], q["report_id"], q["rank"].astype(int)))


@pytest.mark.parametrize(
    ("first", "second", "stations", "reports", "expected"),
    [
        # top K per station record, ranked by score
        (_rows(("S1", "R1", 5), ("S1", "R2", 7), ("S1", "R3", 1)), None, (), (),
         [("S1", "R1", 2), ("S1", "R2", 1)]),
        # a new report that beats a stored one pushes it out (station not re-matched)
        (_rows(("S1", "R1", 5), ("S1", "R2", 7)), _rows(("S1", "R9", 6)), (), ("R9",),
         [("S1", "R2", 1), ("S1", "R9", 2)]),
        # a weaker new report does not get in
        (_rows(("S1", "R1", 5), ("S1", "R2", 7)), _rows(("S1", "R9", 2)), (), ("R9",),
         [("S1", "R1", 2), ("S1", "R2", 1)]),
        # a re-matched station record gets a whole new list
        (_rows(("S1", "R1", 5), ("S1", "R2", 7)), _rows(("S1", "R3", 3)), ("S1",), (),
         [("S1", "R3", 1)]),
        # a changed report that no longer matches leaves every list it was in
        (_rows(("S1", "R1", 5), ("S2", "R1", 4), ("S2", "R2", 1)), _rows(), (), ("R1",),
         [("S2", "R2", 1)]),
        # re-applying the same rows changes nothing
        (_rows(("S1", "R1", 5)), _rows(("S1", "R1", 5)), ("S1",), (), [("S1", "R1", 1)]),
    ],
)
def test_candidates_merge(url: str, first, second, stations, reports, expected) -> None:
    _apply(url, first, stations=sorted(set(first["station_record_id"])))
    if second is not None:
        _apply(url, second, stations=stations, reports=reports)
    assert sorted(_queue(url)) == sorted(expected)


def test_reapplying_identical_rows_writes_nothing(url: str) -> None:
    rows = _rows(("S1", "R1", 5), ("S1", "R2", 4))
    first = _apply(url, rows, stations=("S1",))
    again = _apply(url, rows, stations=("S1",))
    assert (first.inserted, again.inserted, again.updated, again.deleted) == (2, 0, 0, 0)


@pytest.mark.parametrize("rematched", ["station", "report", "neither"])
def test_a_stored_pair_offered_again_with_other_evidence_is_updated(url: str, rematched: str) -> None:
    """Same rank, score and model, new evidence (e.g. a report's marks were corrected and scored
    the same): the stored row takes the new evidence; the neighbour's row is left alone, unless
    its station record was re-matched (then the fresh rows are its whole list)."""
    _apply(url, _rows(("S1", "R1", 5), ("S1", "R2", 4)), stations=("S1",))
    again = _rows(("S1", "R1", 5))
    again["name_level"] = "pinyin"
    again["evidence"] = "name=pinyin"
    changes = _apply(url, again, stations=("S1",) if rematched == "station" else (),
                     reports=("R1",) if rematched == "report" else ())
    with db.sessions(url)() as s:
        stored = {r: ev for r, ev in s.execute(sa.select(Candidate.report_id, Candidate.evidence))}
    assert stored["R1"]["name_level"] == "pinyin" and stored["R1"]["evidence"] == "name=pinyin"
    assert ("R2" not in stored) if rematched == "station" else (stored["R2"]["name_level"] == "exact")
    assert (changes.inserted, changes.updated, changes.deleted) == ((0, 1, 1) if rematched == "station" else (0, 1, 0))


def test_excluded_pair_is_removed_and_never_offered_again(url: str) -> None:
    _apply(url, _rows(("S1", "R1", 9), ("S1", "R2", 5)), stations=("S1",))
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R1", "排除", "rev")
    assert _queue(url) == [("S1", "R2", 1)]
    _apply(url, _rows(("S1", "R1", 9), ("S1", "R2", 5)), stations=("S1",))  # the matcher offers it again
    assert _queue(url) == [("S1", "R2", 1)]


def test_confirmed_person_leaves_the_queue(url: str) -> None:
    _apply(url, _rows(("S1", "R1", 9), ("S1", "R2", 5), ("S2", "R1", 4), ("S2", "R3", 3)), stations=("S1", "S2"))
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R1", "确认", "rev")
    assert _queue(url) == [("S2", "R3", 1)]  # ranks close up
    _apply(url, _rows(("S2", "R1", 4), ("S2", "R3", 3)), stations=("S2",))
    assert _queue(url) == [("S2", "R3", 1)]


def test_pair_under_review_stays_beyond_top_k(url: str) -> None:
    _apply(url, _rows(("S1", "R1", 3), ("S1", "R2", 2)), stations=("S1",), top_k=2)
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, "S1", "R2", "待定", "rev")
    _apply(url, _rows(("S1", "R5", 9), ("S1", "R6", 8)), reports=("R5", "R6"), top_k=2)
    assert sorted(_queue(url)) == [("S1", "R2", 4), ("S1", "R5", 1), ("S1", "R6", 2)]


def test_model_is_stored_as_json_and_activated(url: str) -> None:
    with db.sessions(url).begin() as s:
        assert model_versions.active_model(s) is None
        v1 = model_versions.save_model(s, {"format": "x", "match_share": 0.1, "w": [1.0, 2.5e-7]}, None)
        v2 = model_versions.save_model(s, {"format": "x", "match_share": 0.2}, None)
    with db.sessions(url)() as s:
        version, body = model_versions.active_model(s)  # type: ignore[misc]
    assert (version, body["match_share"]) == (v2, 0.2) and v1 != v2
    with db.sessions(url).begin() as s:
        model_versions.save_model(s, {"format": "x", "match_share": 0.1, "w": [1.0, 2.5e-7]}, None)
    with db.sessions(url)() as s:
        assert model_versions.active_model(s) == (v1, {"format": "x", "match_share": 0.1, "w": [1.0, 2.5e-7]})


@pytest.mark.parametrize(("flows", "expected"), [
    (["nightly", "nightly"], ["interrupted", "running"]),  # the first was killed: found still 'running'
    (["match", "nightly"], ["running", "running"]),  # another flow's run is left alone
])
def test_a_run_left_running_is_marked_interrupted_by_the_next(url: str, flows: list[str], expected: list[str]) -> None:
    for flow in flows:
        with db.sessions(url).begin() as s:
            runs.interrupt_stale_runs(s, flow)
            runs.start_run(s, flow)
    with db.engine(url).connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("SELECT status FROM runs ORDER BY id"))] == expected
