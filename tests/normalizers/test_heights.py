import numpy as np
import pandas as pd
import pytest

from xunqin.normalizers.heights import parse_height


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("165", 165.0),
        (165, 165.0),
        (165.0, 165.0),
        (np.float64(172.5), 172.5),
        (np.int32(158), 158.0),
        (1.65, 165.0),  # bare small number: metres
        ("1.65", 165.0),
        ("165cm", 165.0),
        ("165CM", 165.0),
        ("165 cm", 165.0),
        ("１６５ｃｍ", 165.0),
        ("165厘米", 165.0),
        ("165公分", 165.0),
        ("1.65米", 165.0),
        ("1.65m", 165.0),
        ("1.65M", 165.0),
        ("约1.7米", 170.0),
        ("身高约170", 170.0),
        ("170左右", 170.0),
        ("170cm左右", 170.0),
        ("一米六五", 165.0),
        ("一米七", 170.0),
        ("一米七左右", 170.0),
        ("1米65", 165.0),
        ("1米7", 170.0),
        ("一百七十厘米", 170.0),
        ("160-165", 162.5),
        ("160~165cm", 162.5),
        ("160至170厘米", 165.0),
        ("1.6-1.7米", 165.0),
        ("1.60米-1.70米", 165.0),
        ("1650mm", 165.0),
        ("50", 50.0),  # small child
        ("230", 230.0),
        ("172.5", 172.5),
    ],
)
def test_parse_height_valid(raw, expected):
    assert parse_height(raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "不详", "未知", "无", "-", "未测", float("nan"), np.nan, pd.NA, "nan"]
)
def test_parse_height_missing(raw):
    assert parse_height(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "1e9",
        "0",
        0,
        -165,
        "39",
        "231",
        "300cm",
        "16.5",  # neither plausible cm nor metres
        "3米",
        "5尺",
        "5'6\"",
        "170-160",  # reversed range
        "160-300",
        "165" * 30,
        float("inf"),
        True,
        "高个子",
        "1.65kg",
        {"h": 165},
    ],
)
def test_parse_height_invalid(raw):
    with pytest.raises(ValueError):
        parse_height(raw)
