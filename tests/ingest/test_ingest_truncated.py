"""Files cut short (a copy or an upload broken off): the complete rows are taken, the cut last row
is refused with its reason, and nothing about the cut row is stored as if it were a record."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from ingest_helpers import STATION_HEADER_ZH, csv_text, station_row

from xunqin.ingest import ingest_one
from xunqin.ingest.read import CUT_IN_CHARACTER, CUT_SHORT_ROW

SAMPLE = Path(str(files("xunqin.data") / "sample"))


def _last_line_start(data: bytes) -> int:
    return data.rstrip(b"\n").rfind(b"\n") + 1


def _cut_after_field(data: bytes, n: int) -> bytes:
    """The file up to the end of the last row's ``n``-th field (before its comma)."""
    start = _last_line_start(data)
    pos = start
    for _ in range(n):
        pos = data.index(b",", pos) + 1
    return data[:pos - 1]


def _cut_inside_character(data: bytes, occurrence: int, encoding: str) -> bytes:
    """The file cut after the first byte of the last row's ``occurrence``-th non-ASCII character."""
    start = _last_line_start(data)
    text = data[start:].decode(encoding)
    wide = [i for i, ch in enumerate(text) if ord(ch) > 127]
    offset = len(text[:wide[occurrence]].encode(encoding))
    return data[:start + offset + 1]


def _stations(tmp_path: Path, n: int = 6) -> bytes:
    rows = [STATION_HEADER_ZH] + [station_row(f"S{i:03d}", name=f"测试{'甲乙丙丁戊己庚辛'[i % 8]}", notes="自述家住测试路") for i in range(n)]
    return csv_text(rows).encode("utf-8")


def _check_cut(path: Path, kind: str, complete_rows: int, reason: str):
    df, rejects, counts = ingest_one(path, kind)
    assert (counts.rows_in, counts.rows_out, counts.rows_refused) == (complete_rows + 1, complete_rows, 1)
    last_row = counts.header_row + complete_rows + 1
    cut = rejects[rejects["row"] == last_row]
    # One line for the cut row, and no value rejects for cells that were merely cut.
    assert cut[["severity", "reason"]].values.tolist() == [["refused", reason]], rejects.to_dict("records")
    assert cut["reason_zh"].iloc[0].startswith("行不完整")
    assert last_row not in set(df["source_row"])
    return df, rejects, counts


@pytest.mark.parametrize("fields", [1, 2, 5, 9, 12])  # of 13: cut after the 1st .. 12th field
def test_cut_at_a_field_boundary(tmp_path: Path, fields: int) -> None:
    data = _stations(tmp_path)
    path = tmp_path / "s.csv"
    path.write_bytes(_cut_after_field(data, fields))
    df, rejects, _ = _check_cut(path, "stations", 5, CUT_SHORT_ROW)
    assert df["record_id"].tolist() == [f"S{i:03d}" for i in range(5)]
    assert (rejects["severity"] == "error").sum() == 0


def test_cut_right_after_a_comma(tmp_path: Path) -> None:
    data = _stations(tmp_path)
    path = tmp_path / "s.csv"
    path.write_bytes(_cut_after_field(data, 4) + b",")
    _check_cut(path, "stations", 5, CUT_SHORT_ROW)


@pytest.mark.parametrize("occurrence", [0, 3, 8, -1])  # first Chinese character of the row .. its last
def test_cut_inside_a_utf8_character(tmp_path: Path, occurrence: int) -> None:
    data = _stations(tmp_path)
    path = tmp_path / "s.csv"
    path.write_bytes(_cut_inside_character(data, occurrence, "utf-8"))
    df, rejects, counts = _check_cut(path, "stations", 5, CUT_IN_CHARACTER)
    assert counts.encoding == "utf-8-sig"
    assert any("inside a character" in n for n in counts.notes)
    assert df["name_clean"].tolist() == ["测试甲", "测试乙", "测试丙", "测试丁", "测试戊"]


def test_cut_inside_the_first_character_of_a_new_row(tmp_path: Path) -> None:
    data = _stations(tmp_path) + "S900,长春".encode()
    path = tmp_path / "s.csv"
    path.write_bytes(data[:-2])  # "S900,长" and one byte of 春
    df, rejects, _ = _check_cut(path, "stations", 6, CUT_IN_CHARACTER)
    assert rejects["value"].iloc[-1] == "S900,长\ufffd"
    assert len(df) == 6


@pytest.mark.parametrize("cut", ["field", "character"])
def test_sample_reports_cut_short(tmp_path: Path, cut: str) -> None:
    data = (SAMPLE / "reports.csv").read_bytes()
    assert data.count(b"\n") == 3001
    path = tmp_path / "reports.csv"
    path.write_bytes(_cut_after_field(data, 7) if cut == "field" else _cut_inside_character(data, 2, "utf-8"))
    df, _, _ = _check_cut(path, "reports", 2999, CUT_SHORT_ROW if cut == "field" else CUT_IN_CHARACTER)
    whole, _, _ = ingest_one(SAMPLE / "reports.csv", "reports")
    cols = [c for c in whole.columns if c != "source_file"]
    assert df[cols].equals(whole[cols].iloc[:2999])  # the complete rows exactly as from the whole file


def test_gb18030_file_cut_inside_a_character(tmp_path: Path) -> None:
    data = (SAMPLE / "reports_zh_gb18030.csv").read_bytes()
    path = tmp_path / "reports.csv"
    path.write_bytes(_cut_inside_character(data, 1, "gb18030"))
    _, _, counts = _check_cut(path, "reports", 2999, CUT_IN_CHARACTER)
    assert counts.encoding == "gb18030"


# Files that end without a line break but are whole: nothing is refused.
@pytest.mark.parametrize("tail", [b"", b"\r\n", b"\n"])
def test_whole_last_row_without_line_break_is_taken(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(_stations(tmp_path).rstrip(b"\n") + tail)
    _, rejects, counts = ingest_one(path, "stations")
    assert (counts.rows_in, counts.rows_out, counts.rows_refused) == (6, 6, 0)
    assert not any(r.startswith("row truncated") for r in rejects["reason"])


def test_short_row_inside_the_file_is_taken(tmp_path: Path) -> None:
    """Only the last row of a file that stops without a line break counts as cut: a short row
    inside the file is a sender's habit (trailing empty cells left out)."""
    data = _stations(tmp_path)
    lines = data.split(b"\n")
    lines[2] = lines[2][: lines[2].index(b",", lines[2].index(b",") + 1)]  # record_id and station only
    path = tmp_path / "s.csv"
    path.write_bytes(b"\n".join(lines))
    _, _, counts = ingest_one(path, "stations")
    assert (counts.rows_in, counts.rows_out, counts.rows_refused) == (6, 6, 0)


def test_bad_bytes_before_the_end_are_still_refused(tmp_path: Path) -> None:
    from xunqin.ingest import FileRefused

    data = _stations(tmp_path)
    path = tmp_path / "s.csv"
    path.write_bytes(data[:200] + b"\xe9\xff" + data[200:])
    with pytest.raises(FileRefused) as info:
        ingest_one(path, "stations")
    assert "encoding" in info.value.why
