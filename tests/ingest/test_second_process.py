"""A large reports file's place columns are normalized in a second process: the table and the
rejects must be exactly what one process gives, bad values included, and the second process is
used only where it is safe (no other threads) and pays (a large file)."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import pandas as pd
import pytest

from xunqin.ingest import tables
from xunqin.ingest.read import read_table

ROWS = 3_000
BAD_PLACES = ["=HYPERLINK(\"x\")", "未知", "？？？", "1101011", "火星", "北京市朝阳区" * 40, "", "吉林"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Generated reports with odd place values and a few rows refused (an empty or repeated id)."""
    from xunqin.data.generate import generate

    reports = generate(30, ROWS, seed=7).reports.copy()
    rng = np.random.default_rng(3)
    for column in ("missing_place", "hometown"):
        rows = rng.choice(ROWS, 200, replace=False)
        reports.loc[rows, column] = [BAD_PLACES[k % len(BAD_PLACES)] for k in range(len(rows))]
        reports.loc[rows[:40], "contact_phone"] = "1380013"  # a phone cut short in the same rows
        reports.loc[rows[40:80], "birth_date"] = "1990-13-45"
    reports.loc[5, "report_id"] = ""
    reports.loc[9, "report_id"] = reports.loc[8, "report_id"]
    reports.loc[11, "contact_phone"] = "1380013800|12345"
    path = tmp_path_factory.mktemp("raw") / "reports.csv"
    reports.to_csv(path, index=False, encoding="utf-8")
    return read_table(path, "reports")


def test_the_second_process_gives_what_one_process_gives(raw, monkeypatch):
    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 2**62)
    alone, alone_rejects = tables.normalize_reports(raw)
    used = []
    real = tables._second_process

    @contextlib.contextmanager
    def watched(rows: int):  # type: ignore[no-untyped-def]
        with real(rows) as pool:
            used.append(pool is not None)
            yield pool

    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 1)
    monkeypatch.setattr(tables, "_second_process", watched)
    monkeypatch.setattr(tables.threading, "active_count", lambda: 1)  # Prefect's threads of earlier tests
    pooled, pooled_rejects = tables.normalize_reports(raw)
    assert used == [True]  # the second process did the place columns
    # the odd values are refused (by the reader: formulas, giant cells) beside other columns' rejects
    assert (alone_rejects["column"].isin(["missing_place", "hometown"])).sum() > 20
    assert alone_rejects["column"].isin(["contact_phone", "birth_date"]).sum() > 50
    assert alone_rejects["severity"].eq("refused").sum() == 2
    pd.testing.assert_frame_equal(pooled, alone, check_exact=True)
    pd.testing.assert_frame_equal(pooled_rejects, alone_rejects, check_exact=True)
    assert pooled.dtypes.to_dict() == alone.dtypes.to_dict()


@pytest.mark.parametrize("rows, threads, wanted", [
    (10, 0, False),  # a small file: not worth a process
    (10**6, 0, True),
    (10**6, 1, False),  # another thread (Prefect, the web server): never forked
])
def test_the_second_process_only_where_it_pays_and_is_safe(rows, threads, wanted, monkeypatch):
    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 1000)
    # threads that earlier tests left in this process (Prefect's) do not count: as a command's start
    before = threading.active_count()
    monkeypatch.setattr(tables.threading, "active_count", lambda: len(threading.enumerate()) - before + 1)
    stop = threading.Event()
    others = [threading.Thread(target=stop.wait) for _ in range(threads)]
    for t in others:
        t.start()
    try:
        with tables._second_process(rows) as pool:
            assert (pool is not None) == wanted
    finally:
        stop.set()
        for t in others:
            t.join()


@pytest.mark.parametrize("cell, kept, spaces", [
    ("张三", "张三", False),
    (" 张三 ", " 张三 ", False),  # kept as typed
    ("", None, True),
    ("   ", None, True),
    ("\u3000", None, True),  # an ideographic space is a space
    ("\t\n", None, True),
    (None, None, False),  # a cell the reader refused: missing, not spaces
    ("0", "0", False),
])
def test_raw_cells_are_looked_at_once_per_distinct_value_as_one_by_one(cell, kept, spaces):
    values = pd.Series([cell, "x", cell, None, cell], dtype=object)
    assert tables._raw(values).tolist() == [kept, "x", kept, None, kept]
    missing, only_spaces = tables._blank_cells(values.to_numpy(dtype=object))
    assert only_spaces.tolist() == [spaces, False, spaces, False, spaces]
    assert missing.tolist() == [cell is None, False, cell is None, True, cell is None]


def test_a_large_reports_file_gets_its_second_process_before_it_is_read(raw, tmp_path, monkeypatch):
    """Forked after the read, the second process copied the pages of the table it shared (at M
    0.85 GB of its own, 0.27 GB forked first): ingest_files forks it first, and the tables are
    those of one process."""
    import xunqin.ingest as ingest

    path = tmp_path / "reports.csv"
    raw.data.to_csv(path, index=False)
    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 2**62)
    alone = ingest.ingest_files(None, path)
    events = []
    real_fork, real_read = tables._second_process, ingest.read_table

    @contextlib.contextmanager
    def forked(rows: int):  # type: ignore[no-untyped-def]
        with real_fork(rows) as pool:
            events.append("fork" if pool is not None else "no fork")
            yield pool

    def read(*args, **kwargs):  # type: ignore[no-untyped-def]
        events.append("read")
        return real_read(*args, **kwargs)

    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 1)
    monkeypatch.setattr(tables, "SECOND_PROCESS_FILE_BYTES", path.stat().st_size)
    monkeypatch.setattr(tables, "_second_process", forked)
    monkeypatch.setattr(ingest, "read_table", read)
    monkeypatch.setattr(tables.threading, "active_count", lambda: 1)  # Prefect's threads of earlier tests
    pooled = ingest.ingest_files(None, path)
    assert events == ["fork", "read"]  # forked once, before the read; normalize_reports used it
    pd.testing.assert_frame_equal(pooled.reports, alone.reports, check_exact=True)
    pd.testing.assert_frame_equal(pooled.rejects, alone.rejects, check_exact=True)

    events.clear()
    monkeypatch.setattr(tables, "SECOND_PROCESS_FILE_BYTES", path.stat().st_size + 1)  # a smaller file
    ingest.ingest_files(None, path)
    assert events == ["no fork", "read", "fork"]  # decided by its rows when read, as before


def _pooled(monkeypatch, size: int) -> None:
    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 1)
    monkeypatch.setattr(tables, "SECOND_PROCESS_FILE_BYTES", size)
    monkeypatch.setattr(tables.threading, "active_count", lambda: 1)  # Prefect's threads of earlier tests


@pytest.fixture()
def files(raw, tmp_path):  # type: ignore[no-untyped-def]
    from xunqin.data.generate import generate

    stations = generate(300, 10, seed=11).stations.copy()
    stations.loc[3, "estimated_age"] = "一百五十岁"  # a rejected value
    stations.loc[4, "record_id"] = ""  # a refused row
    station_path, report_path = tmp_path / "stations.csv", tmp_path / "reports.csv"
    stations.to_csv(station_path, index=False)
    raw.data.to_csv(report_path, index=False)
    return station_path, report_path


def test_the_second_process_takes_the_stations_file_while_this_one_reads_the_reports(files, monkeypatch, tmp_path):
    import os

    import xunqin.ingest as ingest

    stations, reports = files
    monkeypatch.setattr(tables, "SECOND_PROCESS_ROWS", 2**62)
    alone = ingest.ingest_files(stations, reports)
    log = tmp_path / "reads.txt"
    real = ingest.read_table

    def read(path, kind):  # type: ignore[no-untyped-def]
        with log.open("a") as out:  # written from either process
            out.write(f"{kind} {os.getpid()}\n")
        return real(path, kind)

    monkeypatch.setattr(ingest, "read_table", read)
    _pooled(monkeypatch, reports.stat().st_size)
    pooled = ingest.ingest_files(stations, reports)
    reads = dict(line.split() for line in log.read_text().splitlines())
    assert reads["reports"] == str(os.getpid()) and reads["stations"] != str(os.getpid())
    pd.testing.assert_frame_equal(pooled.stations, alone.stations, check_exact=True)
    pd.testing.assert_frame_equal(pooled.reports, alone.reports, check_exact=True)
    pd.testing.assert_frame_equal(pooled.rejects, alone.rejects, check_exact=True)
    assert list(pooled.counts) == list(alone.counts) and pooled.counts == alone.counts
    assert (pooled.rejects["file"] == "stations.csv").sum() >= 2  # the age and the refused row


@pytest.mark.parametrize("broken", [("stations",), ("reports",), ("stations", "reports")])
def test_a_refused_file_is_named_as_read_in_order(files, monkeypatch, broken):
    import xunqin.ingest as ingest
    from xunqin.ingest.read import FileRefused

    stations, reports = files
    size = reports.stat().st_size
    for kind, path in (("stations", stations), ("reports", reports)):
        if kind in broken:
            path.write_text("nothing,to,see\n1,2,3\n" * 5_000 if kind == "reports" else "nothing,to,see\n", encoding="utf-8")
    _pooled(monkeypatch, min(size, reports.stat().st_size))
    with pytest.raises(FileRefused) as refused:
        ingest.ingest_files(stations, reports)
    assert refused.value.file == str(stations if "stations" in broken else reports)
    assert "no header row" in refused.value.why


def test_a_refusal_crosses_processes_whole() -> None:
    import pickle

    from xunqin.ingest.read import FileRefused

    again = pickle.loads(pickle.dumps(FileRefused("a.csv", "name", "file not found")))
    assert (type(again), again.file, again.column, again.why, str(again)) == (
        FileRefused, "a.csv", "name", "file not found", "a.csv: name: file not found")
