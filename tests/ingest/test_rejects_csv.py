"""rejects.csv as a spreadsheet and a CSV reader see it: one record per reject, formulas defused."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from ingest_helpers import STATION_HEADER_ZH, station_row, write_csv

from xunqin.ingest import ingest_files, write_rejects_csv, write_result
from xunqin.ingest.tables import empty_rejects


# Values with line breaks where a CSV writer that only quotes its own line end would break a
# record in two: a lone CR, a lone LF, CRLF, at the start, inside and at the end.
BREAKS = ["男\r女", "男\n女", "男\r\n女", "\r男女", "男女\r", "\n\n男女", "男女\r\n", "男\r\r\n女"]


def test_rejects_csv_keeps_values_with_line_breaks_in_one_record(tmp_path: Path) -> None:
    rows = [STATION_HEADER_ZH]
    for i in range(160):
        brk = BREAKS[i % len(BREAKS)]
        rows.append(station_row(f"S{i}", gender=brk, height_cm=brk.replace("男", "高").replace("女", "矮")))
    result = ingest_files(write_csv(tmp_path / "s.csv", rows), None)
    assert len(result.rejects) == 320
    written = write_result(result, tmp_path / "out")
    with written["rejects"].open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    assert len(records) == 1 + 320 and all(len(r) == 7 for r in records)
    back = pd.read_csv(written["rejects"], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(back) == 320
    expected = result.rejects["value"].map(lambda v: "'" + v if v.startswith(("\r", "\n")) else v)
    assert back["value"].tolist() == expected.tolist()
    assert back["row"].astype(int).tolist() == result.rejects["row"].tolist()


# (reject value, as rejects.csv holds it)
EXCEL_CASES = [
    ("=1+1", "'=1+1"),
    ("+8613912345678", "'+8613912345678"),
    ("-5", "'-5"),
    ("@SUM(A1)", "'@SUM(A1)"),
    (" =HYPERLINK(\"http://x\")", "' =HYPERLINK(\"http://x\")"),
    ("\n=1+1", "'\n=1+1"),
    ("\t=1", "'\t=1"),
    ("＝1+1", "'＝1+1"),
    ("\u200b=1+1", "'\u200b=1+1"),
    ("\u3000－5", "'\u3000－5"),
    ("男=女", "男=女"),
    ("165cm", "165cm"),
    ("", ""),
]


@pytest.mark.parametrize("value, shown", EXCEL_CASES)
def test_formula_values_are_defused(tmp_path: Path, value: str, shown: str) -> None:
    rejects = empty_rejects()
    rejects.loc[0] = ["s.csv", 2, "name", value, "x", "数据有问题（x）", "error"]
    path = tmp_path / "rejects.csv"
    write_rejects_csv(rejects, path)
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["value"].tolist() == [shown]
