"""A CSV is parsed by pyarrow where it reads the file exactly as the csv module does, else by the
csv module: either way the table read is the same, row numbers and problems included."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import REPORT_HEADER_ZH, csv_text

import xunqin.ingest.read as read

ROW = ["R1", "家属", "王秀英", "", "女", "1950-03-02", "", "", "2015-03-02", "河南省周口市", "周口商水", "160", "左脸有痣", "13800138000"]
HEADER = ",".join(REPORT_HEADER_ZH)


def _rows(*rows: list[str]) -> str:
    return csv_text([REPORT_HEADER_ZH, *rows])


def _row(k: int, **cells: str) -> list[str]:
    row = list(ROW)
    row[0] = f"R{k}"
    for position, value in cells.items():
        row[int(position[1:])] = value
    return row


# (case, the file's text, whether pyarrow reads it)
TEXTS = [
    ("plain", _rows(_row(1), _row(2)), True),
    ("crlf", _rows(_row(1), _row(2)).replace("\n", "\r\n"), True),
    ("lone cr", _rows(_row(1), _row(2)).replace("\n", "\r"), True),
    ("no final line break", _rows(_row(1), _row(2)).rstrip("\n"), True),
    ("quoted comma, quote and line break",
     _rows(_row(1, c12='左脸有痣,"很大"'), _row(2, c2="王\n秀英"), _row(3, c12="a\r\nb")), True),
    ("blank line inside", _rows(_row(1)) + "\n" + csv_text([_row(2)]), True),
    ("blank lines at the end", _rows(_row(1), _row(2)) + "\n\n", True),
    ("row of empty cells", _rows(_row(1), [""] * len(ROW), _row(3)), True),
    ("spaces only", _rows(_row(1, c2="   ", c12=" \u3000 ")), True),
    ("quote inside an unquoted cell", _rows(_row(1, c12='有痣"大')), True),
    ("text after a closing quote", HEADER + "\n" + ",".join(_row(1)).replace("王秀英", '"王"秀英') + "\n", True),
    ("title row above the header", csv_text([["寻亲登记表"] + [""] * (len(ROW) - 1), REPORT_HEADER_ZH, _row(1)]), True),
    ("short title row", "寻亲登记表\n" + _rows(_row(1)), False),
    ("short row", _rows(_row(1), _row(2)[:5], _row(3)), False),
    ("long row", _rows(_row(1), [*_row(2), "多余"], _row(3)), False),
    ("cut short inside a row", _rows(_row(1), _row(2)).rstrip("\n")[:-20], False),
    ("quote left open", _rows(_row(1)) + '"R2,家属,王\n', False),
    ("nul", _rows(_row(1, c12="痣\x00")), False),
    ("formula and error cells", _rows(_row(1, c2="=HYPERLINK(1)", c10="#N/A"), _row(2, c12="x" * 2500)), True),
    ("control characters", _rows(_row(1, c2="王\x0b秀英", c12="痣\x1c")), True),
    ("semicolons", csv_text([REPORT_HEADER_ZH, _row(1), _row(2)], sep=";"), True),
    ("tabs", csv_text([REPORT_HEADER_ZH, _row(1), _row(2)], sep="\t"), True),
    ("header only", _rows(), True),
]


def _read(path: Path, arrow: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[read.RawTable, bool]:
    used: list[bool] = []
    parse = read._arrow_columns

    def watched(text: str, delimiter: str):
        columns = parse(text, delimiter) if arrow else None
        used.append(columns is not None)
        return columns

    with monkeypatch.context() as patch:
        patch.setattr(read, "_arrow_columns", watched)
        table = read.read_table(path, "reports")
    return table, any(used)


@pytest.mark.parametrize("case, text, by_arrow", TEXTS, ids=[t[0] for t in TEXTS])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_pyarrow_and_the_csv_module_read_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      case: str, text: str, by_arrow: bool, encoding: str) -> None:
    path = tmp_path / "reports.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        pytest.skip("not in this encoding")
    try:
        fast, used = _read(path, True, monkeypatch)
    except read.FileRefused as refused:
        with pytest.raises(read.FileRefused) as plain:
            _read(path, False, monkeypatch)
        assert str(plain.value) == str(refused)
        return
    slow, _ = _read(path, False, monkeypatch)
    assert used == by_arrow
    assert fast.data.equals(slow.data)
    assert fast.source_row.tolist() == slow.source_row.tolist()
    assert (fast.problems, fast.refused_rows, fast.blank_rows, fast.notes, fast.header_row, fast.ignored_columns) == (
        slow.problems, slow.refused_rows, slow.blank_rows, slow.notes, slow.header_row, slow.ignored_columns)


def test_rows_held_as_columns_read_as_rows() -> None:
    import numpy as np

    rows = read._CsvColumns([np.array(["a", "b", "c"], dtype=object), np.array(["1", "2", "3"], dtype=object)])
    assert len(rows) == 3 and rows[0] == ["a", "1"] and rows[-1] == ["c", "3"]
    assert list(rows[1:]) == [["b", "2"], ["c", "3"]] and len(rows[1:1]) == 0 and list(rows[::2]) == [["a", "1"], ["c", "3"]]
    with pytest.raises(IndexError):
        rows[3]
