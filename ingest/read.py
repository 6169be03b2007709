"""Reading an exchange file (CSV or XLSX) into a table of strings with source row numbers.

Nothing is guessed about types: every cell comes back as text exactly as the sender typed it
(XLSX numbers and dates are turned into the text a user sees). Problems with single cells
(formulas without a value, Excel error values, giant fields, NUL characters) are collected as
:class:`CellProblem` rows; problems with the whole file raise :class:`FileRefused`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .characters import BLANKS, FORMULA, FORMULA_COLUMNS, FORMULA_FIRST, SUSPECT, clean_cell, looks_like_formula
from .schema import Column, Kind, columns, header_map, normalize_header

MAX_FIELD = 2000  # characters kept of any one cell
HEADER_SCAN_ROWS = 20  # a header row is looked for among the first rows (titles may sit above it)
EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"})
# Excel serial day numbers taken as dates: 1905-10-01 .. 2100-12-31. Smaller numbers in a date
# column are years typed as numbers (1965), larger ones yyyymm / yyyymmdd.
SERIAL_MIN, SERIAL_MAX = 2101, 73415
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
NUL_SHARE_REFUSED = 0.01
CUT_SHORT_ROW = "row truncated: fewer cells than the header (file cut short?)"
CUT_IN_CHARACTER = "row truncated: text cut inside a character (file cut short?)"  # more NULs than this: UTF-16 or binary, not a text CSV
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / encrypted .xlsx


class FileRefused(Exception):
    """A file that cannot be ingested at all; ``column`` is None when no column is to blame."""

    def __init__(self, file: str, column: str | None, why: str) -> None:
        super().__init__(f"{file}: {column or '-'}: {why}")
        self.file = file
        self.column = column
        self.why = why

    def __reduce__(self) -> tuple:
        # as it was made (from a second process too), not from the joined message
        return (FileRefused, (self.file, self.column, self.why))


@dataclass(frozen=True)
class CellProblem:
    """One cell the reader could not take as is (row as a spreadsheet user sees it)."""

    row: int
    column: str
    value: str
    reason: str
    severity: str = "error"  # 'error': the cell is dropped (None); 'warning': it was cleaned and kept


@dataclass(frozen=True, eq=False)
class RawTable:
    """An exchange file as text: one column per known field, None where the reader rejected a cell."""

    file: str  # file name as reported in rejects
    kind: Kind
    data: pd.DataFrame  # columns = English names of the kind (absent optional ones are all ''); object dtype
    source_row: pd.Series  # int row numbers, header row = its own spreadsheet row (1 for a plain file)
    ignored_columns: tuple[str, ...]
    problems: tuple[CellProblem, ...]
    blank_rows: int = 0  # rows after the header with nothing in any known column
    encoding: str | None = None  # for CSV
    sheet: str | None = None  # for XLSX
    header_row: int = 1
    notes: tuple[str, ...] = field(default=())  # file-level remarks (e.g. "XLSX content in a .csv file")
    # Rows the reader refuses as a whole (a file cut short): (row, reason code, the row's text).
    # They are in ``data`` all the same, so that rows in == rows out + rows refused.
    refused_rows: tuple[tuple[int, str, str], ...] = field(default=())


# --------------------------------------------------------------------------- entry point


def read_table(path: str | Path, kind: Kind) -> RawTable:
    """Read a CSV or XLSX exchange file of ``kind`` ('stations' or 'reports')."""
    path = Path(path)
    name = path.name
    cols = columns(kind)  # raises ValueError for an unknown kind
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise FileRefused(str(path), None, "file not found") from None
    except IsADirectoryError:
        raise FileRefused(str(path), None, "is a directory, not a file") from None
    except OSError as exc:
        raise FileRefused(str(path), None, f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    if not head:
        raise FileRefused(str(path), None, "empty file")
    suffix = path.suffix.lower()
    notes: list[str] = []
    # Decide by content, not by name: stations rename files freely.
    if head.startswith(_OLE_MAGIC):
        raise FileRefused(str(path), None, "legacy .xls or encrypted workbook: save as .xlsx or CSV (UTF-8)")
    if head.startswith(_ZIP_MAGIC):
        if suffix not in (".xlsx", ".xlsm"):
            notes.append(f"file named {suffix or '(no extension)'} holds XLSX content; read as XLSX")
        rows_by_sheet = _xlsx_sheets(path, cols)
        return _build(path, name, kind, cols, rows_by_sheet, encoding=None, notes=notes)
    if suffix in (".xlsx", ".xlsm"):
        notes.append("file named .xlsx holds text; read as CSV")
    text, encoding, cut_in_character = _decode(path)
    rows = _csv_rows(path, text)
    if cut_in_character:
        cut: str | None = CUT_IN_CHARACTER
        notes.append("file ends inside a character (cut short?): its last row is refused")
    else:
        # Without a final line break the last row may have been cut at a field boundary; it
        # is refused when that left it short of a column the file has.
        cut = CUT_SHORT_ROW if not text.endswith(("\n", "\r")) else None
    return _build(path, name, kind, cols, [(None, rows)], encoding=encoding, notes=notes, cut=cut, csv_text=text)


# --------------------------------------------------------------------------- CSV


def _decode(path: Path) -> tuple[str, str, bool]:
    """Bytes -> (text, encoding, whether the file ends inside a character): UTF-8 (with or
    without BOM), else GB18030, else refused.

    A file cut short inside a multi-byte character is still that encoding: its complete part
    is taken and the partial character becomes U+FFFD (its row is then refused)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(str(path), None, "UTF-16 encoding is not accepted: save as CSV UTF-8 or GB18030")
    if data.count(b"\x00") > max(1, len(data) * NUL_SHARE_REFUSED):
        raise FileRefused(str(path), None, "file holds NUL bytes (UTF-16 or binary?): save as CSV UTF-8 or GB18030")
    for encoding in ("utf-8-sig", "gb18030"):
        cut_in_character = False
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.end != len(data) or len(data) - exc.start > 3:
                continue  # bad bytes before the end: not this encoding
            try:
                text = data[:exc.start].decode(encoding) + "\ufffd"
            except UnicodeDecodeError:
                continue
            cut_in_character = True
        if not text.strip().strip("\ufeff\ufffd"):
            raise FileRefused(str(path), None, "empty file")
        return text, encoding, cut_in_character
    raise FileRefused(str(path), None, "unknown text encoding (neither UTF-8 nor GB18030)")


def _csv_rows(path: Path, text: str) -> list[list[str]]:
    """Text -> rows of cells; the delimiter is sniffed among comma, tab and semicolon."""
    sample = "\n".join(text.splitlines()[:HEADER_SCAN_ROWS])
    delimiter = max((",", "\t", ";"), key=lambda d: (sample.count(d), d == ","))
    # csv's field limit is process-wide; raise it so a giant field is clipped by us, not fatal.
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1, max(len(text) + 1, 131072)))
    columns = _arrow_columns(text, delimiter)
    if columns is not None:
        return columns  # type: ignore[return-value]
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise FileRefused(str(path), None, f"malformed CSV ({exc})") from None


class _CsvColumns(Sequence):
    """A CSV's rows held as its columns (pyarrow parsed it): ``rows[k]`` is row k as a list, a
    slice is a view of the same columns, and :func:`_columns` hands the columns on as they are."""

    def __init__(self, columns: list[np.ndarray], start: int = 0, stop: int | None = None) -> None:
        self.columns = columns
        self.start = start
        self.stop = len(columns[0]) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            start, stop, step = k.indices(len(self))
            if step != 1:
                return [self[r] for r in range(start, stop, step)]
            return _CsvColumns(self.columns, self.start + start, self.start + max(start, stop))
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return [column[self.start + k] for column in self.columns]


def _arrow_columns(text: str, delimiter: str) -> _CsvColumns | None:
    """The CSV's columns parsed by pyarrow (in C++, on both cores: 0.9 s for 500,000 reports
    where the csv module took 2.0 s and turning its rows into columns 0.4 s), or None when the
    file is not one pyarrow reads exactly as the csv module: rows of different widths, a quote
    left open, a NUL. A blank line comes back as a row of empty cells, not as an empty row:
    the same to :func:`_build`, which pads short rows with empty cells."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if "\x00" in text:
        return None
    try:
        first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), None)
    except csv.Error:
        return None
    if not first:
        return None
    names = [f"c{k}" for k in range(len(first))]
    uneven: list[object] = []

    def on_uneven_row(row: object) -> str:
        uneven.append(row)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pcsv.ReadOptions(column_names=names),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False,
                                            invalid_row_handler=on_uneven_row),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return None
    if uneven or not table.num_rows:
        return None
    return _CsvColumns([column.to_numpy(zero_copy_only=False) for column in table.columns])


# --------------------------------------------------------------------------- XLSX


def _xlsx_sheets(path: Path, cols: Sequence[Column]) -> list[tuple[str, list[list[object]]]]:
    """Every worksheet as rows of cell values; formula cells without a cached value marked."""
    import openpyxl

    # Bytes, not the path: openpyxl refuses a path whose name does not end in .xlsx.
    data = path.read_bytes()
    try:
        values_wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas_wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # BadZipFile, KeyError, InvalidFileException ...: openpyxl raises many types
        raise FileRefused(str(path), None, f"not a readable XLSX workbook ({type(exc).__name__})") from None
    sheets: list[tuple[str, list[list[object]]]] = []
    try:
        for values_ws, formulas_ws in zip(values_wb.worksheets, formulas_wb.worksheets):
            if not hasattr(values_ws, "iter_rows"):
                continue  # chart sheets
            rows: list[list[object]] = []
            pairs = zip(
                values_ws.iter_rows(min_row=1, values_only=True),
                formulas_ws.iter_rows(min_row=1, values_only=True),
            )
            for values, formulas in pairs:
                row: list[object] = list(values)
                for i, v in enumerate(row):
                    if v is None and i < len(formulas):
                        f = formulas[i]
                        if f is not None and (not isinstance(f, str) or f.startswith("=")):
                            # Never evaluate: the formula text is reported as the bad value.
                            row[i] = _Formula(str(getattr(f, "text", f)))
                rows.append(row)
            sheets.append((values_ws.title, rows))
    except Exception as exc:
        raise FileRefused(str(path), None, f"not a readable XLSX workbook ({type(exc).__name__})") from None
    finally:
        values_wb.close()
        formulas_wb.close()
    if not sheets:
        raise FileRefused(str(path), None, "workbook has no worksheet")
    return sheets


class _Formula(str):
    """Formula text of a cell that has no cached value."""


def _cell_text(value: object, col: Column | None) -> tuple[str, str | None]:
    """An XLSX/CSV cell -> (text, problem reason or None)."""
    if value is None:
        return "", None
    if isinstance(value, _Formula):
        return str(value), "formula without a cached value (not evaluated): type the value"
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), None
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat(), None
        return value.isoformat(sep=" "), None
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat(), None
    if isinstance(value, dt.timedelta):
        return str(value), None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value), "not a finite number"
        if col is not None and col.name == "id_number" and isinstance(value, float) and abs(value) >= 1e15:
            return repr(value), "ID number stored as an Excel number: digits were lost; format the column as text"
        if col is not None and col.date and SERIAL_MIN <= value <= SERIAL_MAX:
            day = EXCEL_EPOCH + dt.timedelta(days=math.floor(value))
            return day.date().isoformat(), None
        if isinstance(value, float):
            return (str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)), None
        return str(value), None
    return str(value), None


# --------------------------------------------------------------------------- header and table


def _find_header(rows: Sequence[Sequence[object]], mapping: dict[str, str]) -> tuple[int, int]:
    """(index of the header row, number of known headers in it); index -1 when none."""
    best, best_hits = -1, 0
    for idx, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = len({mapping[h] for h in (normalize_header(c) for c in row if isinstance(c, str)) if h in mapping})
        if hits > best_hits:
            best, best_hits = idx, hits
    return (best, best_hits) if best_hits >= 2 else (-1, best_hits)


def _build(
    path: Path,
    name: str,
    kind: Kind,
    cols: Sequence[Column],
    sheets: list[tuple[str | None, list[list[object]]]],
    encoding: str | None,
    notes: list[str],
    cut: str | None = None,
    csv_text: str | None = None,
) -> RawTable:
    """The table of a file's rows; ``cut`` (a reason code) when the file's last row may be
    cut short: CUT_IN_CHARACTER refuses it, CUT_SHORT_ROW when it lacks a column's cell;
    ``csv_text`` the whole text of a CSV (None for a workbook)."""
    mapping = header_map(kind)
    required = [c for c in cols if c.required]
    # Pick the first sheet whose header row carries every required column, else the best one.
    candidates = []
    for sheet, rows in sheets:
        idx, hits = _find_header(rows, mapping)
        if idx >= 0:
            found = {mapping.get(normalize_header(c)) for c in rows[idx] if isinstance(c, str)}
            complete = all(c.name in found for c in required)
            candidates.append((not complete, -hits, sheet, rows, idx))
    if not any(row for _, rows in sheets for row in rows if any(_nonblank(c) for c in row)):
        raise FileRefused(str(path), None, "empty file")
    if not candidates:
        raise FileRefused(str(path), None, f"no header row: none of the first {HEADER_SCAN_ROWS} rows names the {kind} columns")
    candidates.sort(key=lambda c: (c[0], c[1]))
    _, _, sheet, rows, header_idx = candidates[0]
    if sheet is not None and len(sheets) > 1:
        notes.append(f"read sheet {sheet!r}")

    header = rows[header_idx]
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for pos, cell in enumerate(header):
        text = "" if cell is None else str(cell)
        key = mapping.get(normalize_header(text))
        if key is None:
            if text.strip():
                ignored.append(unicodedata.normalize("NFKC", text).strip()[:80])
            continue
        if key in positions:
            raise FileRefused(str(path), key, f"duplicate header: two columns map to {key} ({_header_of(header, positions[key])} / {text.strip()})")
        positions[key] = pos
    for col in required:
        if col.name not in positions:
            raise FileRefused(str(path), col.name, f"required column missing ({col.chinese} / {col.name})")

    by_name = {c.name: c for c in cols}
    # One look at the whole text spares a CSV without such characters the cell-by-cell look.
    check_characters = csv_text is None or SUSPECT.search(csv_text) is not None
    refused_rows: list[tuple[int, str, str]] = []
    cut_reason = _cut_reason(cut, rows, header_idx, max(positions.values()) + 1)
    body = rows[header_idx + 1:len(rows) - (cut_reason is not None)]
    first_row = header_idx + 2  # spreadsheet row number of body[0]
    # Column by column: a cell is looked at alone only when a test of the whole column or text
    # says it may need it (500,000 reports of 14 columns: 4.5 s cell by cell, 2.0 s so).
    text_only = not check_characters  # csv_text given: every cell is a str
    could_be_long = _could_be_long(csv_text, len(rows))
    could_be_error = csv_text is None or "#" in csv_text  # every Excel error value starts with one
    out = _columns(body, positions)
    nonblank = np.zeros(len(body), dtype=bool)
    found: list[tuple[int, int, CellProblem]] = []  # (row, column position, problem): sorted below
    for key, pos in positions.items():
        column = out[key]
        looked = _to_look_at(column, key, text_only, could_be_long, could_be_error)
        for i in looked:
            column[i], cell_problems, counts = _checked_cell(first_row + i, column[i], by_name[key], check_characters)
            found.extend((first_row + i, pos, p) for p in cell_problems)
            nonblank[i] |= counts
        # the rest are text as given: a row counts once any of its cells holds more than blanks
        unknown = np.flatnonzero(~nonblank).tolist()
        if unknown:
            done = set(looked)
            nonblank[[i for i in unknown if i not in done and column[i].strip()]] = True
    out = {c.name: out[c.name] if c.name in out else np.full(len(body), "", dtype=object) for c in cols}
    blank = int(len(body) - nonblank.sum())
    kept = np.flatnonzero(nonblank)
    source_rows: list[int] = (kept + first_row).tolist()
    if blank:  # trailing empty rows, or template rows holding only a 序号
        out = {key: values[kept] for key, values in out.items()}
    found.sort(key=lambda f: (f[0], f[1]))
    problems: list[CellProblem] = [p for _, _, p in found]
    if cut_reason is not None:
        row, rownum = rows[-1], len(rows)
        shown = SUSPECT.sub("", ",".join("" if c is None else str(c) for c in row))  # no control characters in rejects
        refused_rows.append((rownum, cut_reason, _clip(shown)))
        source_rows.append(rownum)
        for key, values in out.items():
            pos = positions.get(key, len(row))
            out[key] = np.append(values, row[pos] if pos < len(row) and isinstance(row[pos], str) else "")
    data = pd.DataFrame(out, dtype=object) if source_rows else pd.DataFrame({k: pd.Series([], dtype=object) for k in out})
    return RawTable(
        file=name,
        kind=kind,
        data=data,
        source_row=pd.Series(source_rows, dtype="int64"),
        ignored_columns=tuple(dict.fromkeys(ignored)),
        problems=tuple(problems),
        blank_rows=blank,
        encoding=encoding,
        sheet=sheet,
        header_row=header_idx + 1,
        notes=tuple(notes),
        refused_rows=tuple(refused_rows),
    )


def _columns(body: list[list[object]], positions: dict[str, int]) -> dict[str, np.ndarray]:
    """The cells of each known column as an object array ('' where a row is shorter: a missing
    cell reads as an empty one). numpy turns the rows into columns, and pandas takes the arrays
    as they are (a DataFrame of lists cost 2.4 s at 500,000 reports)."""
    if not body:
        return {key: np.empty(0, dtype=object) for key in positions}
    if isinstance(body, _CsvColumns):
        return {key: body.columns[pos][body.start:body.stop].copy() for key, pos in positions.items()}
    widths = set(map(len, body))
    width = max(widths)
    if len(widths) > 1:
        body = [row if len(row) == width else [*row, *([""] * (width - len(row)))] for row in body]
    grid = np.empty((len(body), width), dtype=object)
    grid[:] = body
    return {key: grid[:, pos].copy() for key, pos in positions.items()}


def _could_be_long(csv_text: str | None, rows: int) -> bool:
    """Whether a cell may be longer than MAX_FIELD: not when every line is shorter and no cell
    spans lines (as many lines as rows); one look at the text, not one per cell."""
    if csv_text is None:
        return True
    lengths = list(map(len, io.StringIO(csv_text, newline="")))  # the csv module's line breaks
    return len(lengths) > rows or max(lengths, default=0) > MAX_FIELD


def _to_look_at(column: np.ndarray, key: str, text_only: bool, could_be_long: bool, could_be_error: bool
                ) -> list[int]:
    """Indices of the cells that :func:`_checked_cell` may change: every cell unless
    ``text_only`` (a CSV without suspect characters); else a value too long, an Excel error
    and, in a name or place column, a formula (the column's text, joined, shows at once
    whether there is any)."""
    if not text_only:
        return list(range(len(column)))
    if not (could_be_long or could_be_error or key in FORMULA_COLUMNS):
        return []
    values = column.tolist()
    look: set[int] = set()
    if could_be_long:
        look.update(i for i, c in enumerate(values) if len(c) > MAX_FIELD)
    if could_be_error:
        look.update(i for i, c in enumerate(values) if c in EXCEL_ERRORS)
    if key in FORMULA_COLUMNS and _FORMULA_START.search(_CELL_BREAK + _CELL_BREAK.join(values)):
        look.update(i for i, c in enumerate(values) if c and looks_like_formula(c))
    return sorted(look)


_CELL_BREAK = "\x00"  # never in a cell of a CSV looked at so (SUSPECT has it)
_FORMULA_START = re.compile(f"{_CELL_BREAK}[{re.escape(BLANKS)}]*[{re.escape(''.join(sorted(FORMULA_FIRST)))}]")


def _checked_cell(rownum: int, raw: object, col: Column, check_characters: bool
                  ) -> tuple[object, list[CellProblem], bool]:
    """(the cell's text, or None when refused; its problems; whether it makes its row count)."""
    key = col.name
    if raw.__class__ is str:  # the common case (every CSV cell): no conversion
        text, reason = raw, None
    else:
        text, reason = _cell_text(raw, col)
    if reason is not None:
        return None, [CellProblem(rownum, key, _clip(text), reason)], True
    problems: list[CellProblem] = []
    if check_characters and SUSPECT.search(text):
        cleaned, found = clean_cell(text, key)
        problems.extend(CellProblem(rownum, key, _clip(shown), reason, severity) for reason, severity, shown in found)
        if cleaned is None:
            return None, problems, True
        text = cleaned
    if key in FORMULA_COLUMNS and text and looks_like_formula(text):
        return None, [*problems, CellProblem(rownum, key, _clip(text), FORMULA)], True
    if text in EXCEL_ERRORS:
        return None, [*problems, CellProblem(rownum, key, text, "Excel error value")], True
    if len(text) > MAX_FIELD:
        clipped = _clip(text)
        if col.free_text:
            return clipped, [*problems, CellProblem(rownum, key, clipped, f"longer than {MAX_FIELD} characters: clipped", "warning")], True
        return None, [*problems, CellProblem(rownum, key, clipped, f"longer than {MAX_FIELD} characters")], True
    return text, problems, bool(text.strip())


def _cut_reason(cut: str | None, rows: Sequence[Sequence[object]], header_idx: int, width: int) -> str | None:
    """The reason the last row is refused for, or None when it stands (or is not a data row)."""
    if cut is None or len(rows) <= header_idx + 1:
        return None
    last = rows[-1]
    if not any(_nonblank(c) for c in last):
        return None
    if cut == CUT_SHORT_ROW and len(last) >= width:
        return None  # every column has its cell: nothing shows it was cut
    return cut


def _header_of(header: Sequence[object], pos: int) -> str:
    return str(header[pos]).strip()


def _nonblank(cell: object) -> bool:
    return cell is not None and (not isinstance(cell, str) or bool(cell.strip()))


def _clip(text: str) -> str:
    return text[:MAX_FIELD]

