import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xunqin.normalizers.dates import PartialDate, parse_date


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2023-05-01", (2023, 5, 1)),
        ("2023/5/1", (2023, 5, 1)),
        ("2023年5月1日", (2023, 5, 1)),
        ("2023年5月1号", (2023, 5, 1)),
        ("20230501", (2023, 5, 1)),
        ("2023.05.01", (2023, 5, 1)),
        ("2023-5", (2023, 5, None)),
        ("2023年5月", (2023, 5, None)),
        ("2023年5月份", (2023, 5, None)),
        ("202305", (2023, 5, None)),
        ("1965", (1965, None, None)),
        ("1965年", (1965, None, None)),
        ("45047", (2023, 5, 1)),
        ("45047.0", (2023, 5, 1)),
        (45047, (2023, 5, 1)),
        (45047.0, (2023, 5, 1)),
        (45047.75, (2023, 5, 1)),  # fraction is the time of day
        (np.int64(45047), (2023, 5, 1)),
        (20230501, (2023, 5, 1)),
        (1965.0, (1965, None, None)),
        ("2023-05-01 00:00:00", (2023, 5, 1)),
        ("2023-05-01T08:30:00", (2023, 5, 1)),
        ("2023/5/1 8:30", (2023, 5, 1)),
        ("  2023-05-01  ", (2023, 5, 1)),
        ("２０２３－０５－０１", (2023, 5, 1)),
        ("２０２３年５月１日", (2023, 5, 1)),
        ("二〇二三年五月一日", (2023, 5, 1)),
        ("二零二三年十二月三十一日", (2023, 12, 31)),
        ("一九六五年", (1965, None, None)),
        ("一九六五年十月", (1965, 10, None)),
        ("2023 年 5 月 1 日", (2023, 5, 1)),
        ("约2023年5月", (2023, 5, None)),
        ("2024-02-29", (2024, 2, 29)),  # leap day
        ("1880", (1880, None, None)),
        ("2100-12-31", (2100, 12, 31)),
        (dt.date(2023, 5, 1), (2023, 5, 1)),
        (dt.datetime(2023, 5, 1, 13, 45), (2023, 5, 1)),
        (pd.Timestamp("2023-05-01 10:00"), (2023, 5, 1)),
        (np.datetime64("2023-05-01T10:00"), (2023, 5, 1)),
    ],
)
def test_parse_date_valid(raw, expected):
    d = parse_date(raw)
    assert (d.year, d.month, d.day) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "不详", "未知", "无", "-", "NaN", "　", float("nan"), np.nan, pd.NA, pd.NaT,
     np.datetime64("NaT"), "待查"],
)
def test_parse_date_missing(raw):
    assert parse_date(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "2023-02-30",  # no such day
        "2023-13-01",
        "2023-00-10",
        "2023年5月32日",
        "2023-02-29",  # not a leap year
        "1879",
        "2101-01-01",
        "0000-00-00",
        "abc",
        "1e9",
        "01/05/2023",  # day-first: ambiguous
        "65年",  # two-digit year
        "2023-05-01-07",
        "12345",  # serial below 20000
        "99999",  # serial above 80000
        12345,
        -1,
        1.5,
        float("inf"),
        True,
        "2023年5月1日" * 50,  # very long
        "昨天",
        ["2023-05-01"],
    ],
)
def test_parse_date_invalid(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


@pytest.mark.parametrize(
    "pd_, precision, earliest, midpoint, latest",
    [
        (PartialDate(2023, 5, 1), "day", dt.date(2023, 5, 1), dt.date(2023, 5, 1), dt.date(2023, 5, 1)),
        (PartialDate(2023, 5), "month", dt.date(2023, 5, 1), dt.date(2023, 5, 15), dt.date(2023, 5, 31)),
        (PartialDate(2024, 2), "month", dt.date(2024, 2, 1), dt.date(2024, 2, 15), dt.date(2024, 2, 29)),
        (PartialDate(2023, 2), "month", dt.date(2023, 2, 1), dt.date(2023, 2, 15), dt.date(2023, 2, 28)),
        (PartialDate(1965), "year", dt.date(1965, 1, 1), dt.date(1965, 7, 1), dt.date(1965, 12, 31)),
    ],
)
def test_partial_date_bounds(pd_, precision, earliest, midpoint, latest):
    assert pd_.precision == precision
    assert pd_.earliest() == earliest
    assert pd_.midpoint() == midpoint
    assert pd_.latest() == latest


@pytest.mark.parametrize("args", [(2023, None, 5), (2023, 13, None), (1700, None, None), (2023, 4, 31)])
def test_partial_date_rejects_invalid_construction(args):
    with pytest.raises(ValueError):
        PartialDate(*args)


def test_partial_date_is_frozen_and_hashable():
    d = parse_date("2023-05-01")
    with pytest.raises(AttributeError):
        d.year = 2000
    assert {d, parse_date("20230501")} == {PartialDate(2023, 5, 1)}


def test_error_reason_does_not_echo_value():
    with pytest.raises(ValueError) as exc:
        parse_date("2023-02-30")
    assert "2023" not in str(exc.value)
    # failures are cached; a second call must still raise
    with pytest.raises(ValueError):
        parse_date("2023-02-30")
