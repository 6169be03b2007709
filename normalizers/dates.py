"""Dates (``救助日期``, ``走失日期``, ``出生日期``) as possibly partial dates.

Accepted: 2023-05-01, 2023/5/1, 2023.05.01, 2023年5月1日/号, 20230501, 2023-5, 2023年5月(份),
202305, 1965, 1965年, '2023-05-01 00:00:00' / ISO 'T' times, Excel serial day numbers
(20000..80000, as text or number), datetime/date/pandas Timestamp/numpy datetime64 objects,
full-width digits and Chinese numerals (二〇二三年五月一日, 一九六五年). Day-first or
two-digit-year forms (01/05/2023, 65年) are ambiguous and rejected.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from xunqin.normalizers.ages import chinese_int
from .cells import cached_parser, parse_cell
from .cells import is_missing as _is_missing

MIN_YEAR, MAX_YEAR = 1880, 2100
# Excel's day 0 is 1899-12-30 (it counts the non-existent 1900-02-29).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000
_MAX_LEN = 40

_UNKNOWN = frozenset({
    "", "不详", "未知", "无", "-", "--", "—", "——", "/", "?", "??", "不清楚", "不知道", "待查",
    "未填", "暂无", "不明", "null", "none", "nan", "nat", "n/a", "na", "#n/a", "unknown",
})

_CN_NUM = re.compile(r"[〇零一二两三四五六七八九十]+")
_TIME_TAIL = re.compile(r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")
_YMD = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?$")
_YM = re.compile(r"^(\d{4})[-/.年](\d{1,2})(?:月份?)?$")
_Y = re.compile(r"^(\d{4})年?$")
_DIGITS = re.compile(r"^\d+(?:\.0+)?$")
_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")
_SPACES = re.compile(r"\s+")
_HEDGES = re.compile(r"^(?:约|大约|大概)|(?:左右|前后|许)$")


@dataclass(frozen=True)
class PartialDate:
    """A date known to day, month or year precision."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not (MIN_YEAR <= self.year <= MAX_YEAR):
            raise ValueError(f"year outside {MIN_YEAR}..{MAX_YEAR}")
        if self.month is None:
            if self.day is not None:
                raise ValueError("day without month")
            return
        if not 1 <= self.month <= 12:
            raise ValueError("invalid month")
        if self.day is not None and not 1 <= self.day <= calendar.monthrange(self.year, self.month)[1]:
            raise ValueError("invalid day for month")

    @property
    def precision(self) -> str:
        if self.day is not None:
            return "day"
        return "month" if self.month is not None else "year"

    def earliest(self) -> dt.date:
        return dt.date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> dt.date:
        if self.month is None:
            return dt.date(self.year, 12, 31)
        return dt.date(self.year, self.month, self.day or calendar.monthrange(self.year, self.month)[1])

    def midpoint(self) -> dt.date:
        """Best single date: Jul 1 for a year, the 15th for a month."""
        if self.month is None:
            return dt.date(self.year, 7, 1)
        return dt.date(self.year, self.month, self.day or 15)


def _from_serial(n: float) -> PartialDate:
    if not _SERIAL_MIN <= n <= _SERIAL_MAX:
        raise ValueError("number is not a date")
    d = _EXCEL_EPOCH + dt.timedelta(days=int(n))  # fraction = time of day
    return PartialDate(d.year, d.month, d.day)


def _cn_to_digits(s: str) -> str:
    """Replace Chinese numeral runs by Arabic digits (年 part digit-wise, 月/日 with 十)."""
    return _CN_NUM.sub(lambda m: str(chinese_int(m.group(0))), s)


def _from_digits(s: str) -> PartialDate:
    if len(s) == 8:
        return PartialDate(int(s[:4]), int(s[4:6]), int(s[6:]))
    if len(s) == 6:
        return PartialDate(int(s[:4]), int(s[4:]))
    if len(s) == 4:
        return PartialDate(int(s))
    if len(s) == 5:
        return _from_serial(int(s))
    raise ValueError("unreadable date")


def _parse_core(raw: str) -> PartialDate | None:
    if m := _YMD.match(raw):
        # Already a plain y-m-d (the commonest cell): none of the steps below would change it,
        # and it matches none of the forms tried before _YMD.
        return PartialDate(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    s = unicodedata.normalize("NFKC", raw).strip().lower()
    if s in _UNKNOWN:
        return None
    if len(s) > _MAX_LEN:
        raise ValueError("too long for a date")
    s = _TIME_TAIL.sub("", s).strip()
    s = _SPACES.sub("", s)
    s = _HEDGES.sub("", s)
    if s in _UNKNOWN:
        return None
    if _CN_NUM.search(s):
        s = _cn_to_digits(s)
    if m := _SERIAL.match(s):
        return _from_serial(float(s))
    if _DIGITS.match(s):
        return _from_digits(s.split(".")[0])
    if m := _YMD.match(s):
        return PartialDate(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _YM.match(s):
        return PartialDate(int(m.group(1)), int(m.group(2)))
    if m := _Y.match(s):
        return PartialDate(int(m.group(1)))
    raise ValueError("unreadable date")


def _from_number(raw: float) -> PartialDate:
    """A number cell: an Excel serial day, or digits (20230501, 1965) from a numeric column."""
    if isinstance(raw, numbers.Integral):
        n = int(raw)
        return _from_serial(n) if _SERIAL_MIN <= n <= _SERIAL_MAX else _from_digits(str(n))
    x = float(raw)
    if math.isinf(x):
        raise ValueError("number is not a date")
    if _SERIAL_MIN <= x <= _SERIAL_MAX:
        return _from_serial(x)
    if x == int(x):  # 20230501.0 or 1965.0 from a numeric column
        return _from_digits(str(int(x)))
    raise ValueError("number is not a date")


def parse_date(raw: object) -> PartialDate | None:
    """Date cell -> PartialDate; None when empty/unknown; ValueError when unreadable/invalid."""
    if isinstance(raw, (np.datetime64, dt.date)) and not _is_missing(raw):  # includes pandas Timestamp
        if isinstance(raw, np.datetime64):
            raw = raw.astype("datetime64[D]").item()
        return PartialDate(raw.year, raw.month, raw.day)
    return parse_cell(raw, _parse_text, "a date", number=_from_number)


_parse_text = cached_parser(_parse_core, maxsize=1 << 16)
