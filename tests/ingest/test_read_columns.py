"""The reader looks at a CSV column by column and at a cell alone only when a test of the whole
column or text says it may need it; a workbook's cells are each looked at. Both ways must give
the same table, problems and blank-row count: here the same rows are read both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import STATION_HEADER_ZH, csv_text, station_row

from xunqin.ingest import read

H = STATION_HEADER_ZH
LONG_ON_SHORT_LINES = "备注\n" * 700  # 2,100 characters, no line longer than 3

ROWS = [
    ("plain rows", [station_row("S1"), station_row("S2", name="测试乙")]),
    ("formulas in names and places, after blanks, full-width", [
        station_row("S1", name=" =1+1"), station_row("S2", found_place="\u3000＝1"), station_row("S3", hometown="＠某地"),
        station_row("S4", hometown="-"), station_row("S5", name="测-试乙"), station_row("S6", notes="=不是公式列")]),
    ("Excel errors", [station_row("S1", name="#N/A", height_cm="#VALUE!"), station_row("S2", features="#井号不是错误")]),
    ("giant cells, on one line and across lines", [
        station_row("S1", name="测" * 2500), station_row("S2", notes=LONG_ON_SHORT_LINES),
        station_row("S3", features=LONG_ON_SHORT_LINES)]),
    ("blank rows between", [station_row("S1"), [""] * 13, [" ", "\u3000", "\t"] + [""] * 10, station_row("S2")]),
    ("a short row in the middle", [station_row("S1"), ["S2", "站"], station_row("S3")]),
    ("a long row", [station_row("S1") + ["多余"], station_row("S2")]),
]


@pytest.mark.parametrize("label, rows", ROWS, ids=[r[0] for r in ROWS])
def test_column_by_column_is_cell_by_cell(tmp_path: Path, label: str, rows: list[list[str]]) -> None:
    path = tmp_path / "s.csv"
    text = csv_text([H, *rows])
    path.write_text(text, encoding="utf-8")
    parsed = read._csv_rows(path, text)
    args = (path, path.name, "stations", read.columns("stations"), [(None, parsed)])
    fast = read._build(*args, encoding="utf-8", notes=[], csv_text=text)
    every_cell = read._build(*args, encoding="utf-8", notes=[], csv_text=None)  # as for a workbook
    assert fast.data.equals(every_cell.data)
    assert fast.source_row.tolist() == every_cell.source_row.tolist()
    assert fast.problems == every_cell.problems
    assert fast.blank_rows == every_cell.blank_rows


def test_the_cells_it_must_look_at_are_found(tmp_path: Path) -> None:
    rows = [station_row("S1", name=" =1+1", notes=LONG_ON_SHORT_LINES, height_cm="#DIV/0!"), [""] * 13, station_row("S2")]
    path = tmp_path / "s.csv"
    text = csv_text([H, *rows])
    path.write_text(text, encoding="utf-8")
    table = read.read_table(path, "stations")
    assert [(p.row, p.column, p.severity) for p in table.problems] == [
        (2, "name", "error"), (2, "height_cm", "error"), (2, "notes", "warning")]
    assert table.data["name"].iloc[0] is None and len(table.data["notes"].iloc[0]) == read.MAX_FIELD
    assert table.source_row.tolist() == [2, 4] and table.blank_rows == 1
