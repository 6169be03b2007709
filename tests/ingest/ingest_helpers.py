"""Builders for small exchange files used by the ingest tests (made-up people only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xunqin.normalizers.id_numbers import check_digit

STATION_HEADER_ZH = ["编号", "救助站", "姓名", "性别", "估计年龄", "救助日期", "发现地点", "自述籍贯", "口音", "身高", "体貌特征", "身份证号", "备注"]
STATION_HEADER_EN = ["record_id", "station", "name", "gender", "estimated_age", "found_date", "found_place", "hometown", "dialect", "height_cm", "features", "id_number", "notes"]
REPORT_HEADER_ZH = ["编号", "来源", "姓名", "曾用名/小名", "性别", "出生日期", "走失时年龄", "身份证号", "走失日期", "走失地点", "户籍地址", "身高", "体貌特征", "联系电话"]


def make_id(region: str, birth: str, seq: str) -> str:
    """A made-up, check-digit-valid 18-character number (odd seq digit = 男)."""
    first17 = region + birth + seq
    return first17 + check_digit(first17)


def bad_check(number: str) -> str:
    """The same number with a wrong check character."""
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def csv_text(rows: Sequence[Sequence[object]], sep: str = ",", eol: str = "\n") -> str:
    """Rows -> CSV text with minimal quoting (quotes doubled, fields with sep/quote/newline quoted)."""
    out = []
    for row in rows:
        cells = []
        for v in row:
            s = "" if v is None else str(v)
            if any(ch in s for ch in (sep, '"', "\n", "\r")):
                s = '"' + s.replace('"', '""') + '"'
            cells.append(s)
        out.append(sep.join(cells))
    return eol.join(out) + eol


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8", sep: str = ",", eol: str = "\n") -> Path:
    path.write_bytes(csv_text(rows, sep, eol).encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]], merge: dict[str, str] | None = None) -> Path:
    """Workbook with the given sheets (in order); ``merge`` maps sheet -> range to merge."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
        if merge and title in merge:
            ws.merge_cells(merge[title])
    wb.save(path)
    return path


def station_row(record_id: str = "S001", name: str = "测试甲", found: str = "2023-05-01", **kw: object) -> list[object]:
    """A stations row in STATION_HEADER_ZH order."""
    values = {
        "record_id": record_id, "station": "长春市救助管理站", "name": name, "gender": "男", "estimated_age": "约60岁",
        "found_date": found, "found_place": "吉林省长春市朝阳区", "hometown": "河南周口", "dialect": "河南口音",
        "height_cm": "165", "features": "左眉有疤", "id_number": "", "notes": "",
    }
    values.update(kw)
    return [values[c] for c in STATION_HEADER_EN]
