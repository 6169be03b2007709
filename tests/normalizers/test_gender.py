import numpy as np
import pandas as pd
import pytest

from xunqin.normalizers.gender import parse_gender


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("男", "男"),
        ("女", "女"),
        (" 男 ", "男"),
        ("男性", "男"),
        ("女性", "女"),
        ("男孩", "男"),
        ("女孩", "女"),
        ("男童", "男"),
        ("M", "男"),
        ("F", "女"),
        ("m", "男"),
        ("f", "女"),
        ("Ｍ", "男"),  # full-width
        ("male", "男"),
        ("FEMALE", "女"),
        ("Female ", "女"),
        ("1", "男"),  # GB/T 2261.1
        ("2", "女"),
        (1, "男"),
        (2.0, "女"),
        (np.int64(1), "男"),
        ("1.0", "男"),
        ("男?", "男"),
        ("女？", "女"),
        ("疑似男性", "男"),
        ("未知", None),
        ("不详", None),
        ("未说明", None),
        ("0", None),
        ("9", None),
        (0, None),
        (9, None),
        ("", None),
        ("   ", None),
        (None, None),
        (float("nan"), None),
        (np.nan, None),
        (pd.NA, None),
        ("?", None),
    ],
)
def test_parse_gender(raw, expected):
    assert parse_gender(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["男女", "男/女", "3", 3, 1.5, "x", "abc", "中性", "男" * 50, True, "1e9", float("inf"), "-1", ["男"]],
)
def test_parse_gender_invalid(raw):
    with pytest.raises(ValueError):
        parse_gender(raw)
