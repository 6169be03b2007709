import numpy as np
import pandas as pd
import pytest

from xunqin.normalizers.ages import AgeRange, chinese_int, parse_age, parse_age_exact


@pytest.mark.parametrize(
    "raw, low, high",
    [
        ("60", 57, 63),
        (60, 57, 63),
        (60.0, 57, 63),
        (np.int64(60), 57, 63),
        ("约60岁", 57, 63),
        ("60岁左右", 57, 63),
        ("大约60岁左右", 57, 63),
        ("60上下", 57, 63),
        ("６０岁", 57, 63),
        (" 60 岁 ", 57, 63),
        ("60周岁", 57, 63),
        ("61虚岁", 57, 63),  # nominal age: one less
        ("虚岁61", 57, 63),
        ("六十", 57, 63),
        ("六十五岁", 62, 68),
        ("百岁", 97, 103),
        ("一百零二岁", 99, 105),
        ("六十来岁", 57, 63),
        ("60多岁", 60.5, 69),
        ("六十多岁", 60.5, 69),
        ("五十多岁", 50.5, 59),
        ("二十几岁", 20.5, 29),
        ("十多岁", 10.5, 19),
        ("65多岁", 65, 66),
        ("六十出头", 60.5, 63),
        ("60岁以上", 60, 70),
        ("七十开外", 70, 80),
        ("不到10岁", 0, 10),
        ("55-60岁", 54, 61),
        ("55~60", 54, 61),
        ("55～60岁", 54, 61),
        ("55至60岁", 54, 61),
        ("55岁到60岁", 54, 61),
        ("五十五至六十岁", 54, 61),
        ("五六十岁", 50, 69),
        ("七八十岁", 70, 89),
        ("七八岁", 6, 9),
        ("三十五六岁", 34, 37),
        ("八旬", 80, 89),
        ("年过八旬", 80, 89),
        ("8", 7, 9),  # child: ±1
        ("11岁", 10, 12),
        ("12岁", 9, 15),  # 12 and over: ±3
        ("0", 0, 1),
        ("8个月", 0.5, 10 / 12),
        ("118", 115, 120),  # clipped at 120
        ("老年", 60, 90),
        ("老人", 60, 90),
        ("中年", 40, 60),
        ("青年", 18, 40),
        ("儿童", 3, 14),
        ("小孩", 3, 14),
        ("婴儿", 0, 2),
        ("中老年", 45, 75),
    ],
)
def test_parse_age_valid(raw, low, high):
    r = parse_age(raw)
    assert r.low == pytest.approx(low)
    assert r.high == pytest.approx(high)
    assert r.low <= r.mid <= r.high


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "不详", "未知", "无", "-", "约不详", float("nan"), np.nan, pd.NA, "NaN", "　"]
)
def test_parse_age_missing(raw):
    assert parse_age(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "1e9",
        "121",
        "200岁",
        -5,
        "-5",
        "一百五十岁",
        1e9,
        float("inf"),
        "60-55",  # reversed
        "50后",  # needs a reference date
        "五七十岁",  # not adjacent digits
        "60岁" * 40,
        "60/65",
        "男",
        True,
        "60个月",
        [60],
    ],
)
def test_parse_age_invalid(raw):
    with pytest.raises(ValueError):
        parse_age(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (12, 12),
        (12.0, 12),
        (np.float64(35.0), 35),
        ("12", 12),
        ("12岁", 12),
        ("12周岁", 12),
        ("１２岁", 12),
        ("十二岁", 12),
        ("六十五", 65),
        ("一百零二岁", 102),
        ("约8岁", 8),
        ("13虚岁", 12),
        ("3岁半", 3),
        ("8个月", 0),
        ("0", 0),
        ("120", 120),
        (None, None),
        ("", None),
        ("不详", None),
        (float("nan"), None),
    ],
)
def test_parse_age_exact(raw, expected):
    assert parse_age_exact(raw) == expected


@pytest.mark.parametrize(
    "raw", ["55-60", "60多岁", "12.5", 12.5, "121", -1, "abc", "老年", True, "1" * 100, "1e2"]
)
def test_parse_age_exact_invalid(raw):
    with pytest.raises(ValueError):
        parse_age_exact(raw)


@pytest.mark.parametrize(
    "text, expected",
    [("六十", 60), ("六十五", 65), ("十", 10), ("十二", 12), ("二十", 20), ("一百", 100),
     ("一百零二", 102), ("两", 2), ("二〇二三", 2023), ("一九六五", 1965), ("零", 0),
     ("百", 100), ("两百", 200), ("一百一", 110), ("三十五", 35), ("二〇〇五", 2005), ("九十九", 99)],
)
def test_chinese_int(text, expected):
    assert chinese_int(text) == expected


@pytest.mark.parametrize("text", ["", "六十x", "abc", "十十", "百百", "五点五", "负五", "六十万"])
def test_chinese_int_invalid(text):
    with pytest.raises(ValueError):
        chinese_int(text)


@pytest.mark.parametrize("low, high", [(5, 3), (-1, 5), (10, 130)])
def test_age_range_rejects_bad_bounds(low, high):
    with pytest.raises(ValueError):
        AgeRange(low, high)


def test_age_range_contains_and_mid():
    r = parse_age("60多岁")
    assert r.contains(65) and not r.contains(60) and not r.contains(70)
    assert r.mid == pytest.approx(64.75)
