"""Tests for xunqin.normalizers.dialects."""

import pytest

from xunqin.normalizers.dialects import dialect_provinces, dialect_table
from xunqin.normalizers.places import divisions

HENAN, SHANDONG = "410000", "370000"
NE = {"210000", "220000", "230000"}
CANTONESE = {"440000", "450000", "810000", "820000"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("河南口音", {HENAN}),
        ("河南话", {HENAN}),
        ("东北口音", NE),
        ("东北话", NE),
        ("东北味", NE),
        ("一口东北腔", NE),
        ("四川话", {"510000", "500000"}),
        ("川普", {"510000", "500000"}),
        ("粤语", CANTONESE),
        ("广东话", CANTONESE),
        ("白话", {"440000", "450000"}),
        ("闽南话", {"350000"}),
        ("客家话", {"440000", "350000", "360000"}),
        ("山东口音", {SHANDONG}),
        ("陕西话", {"610000"}),
        ("湖南口音", {"430000"}),
        ("湖北", {"420000"}),
        ("安徽", {"340000"}),
        ("江浙口音", {"320000", "330000"}),
        ("上海话", {"310000"}),
        ("西北口音", {"610000", "620000", "640000", "630000"}),
        ("西南官话", {"510000", "500000", "530000", "520000", "420000", "450000"}),
        ("云贵口音", {"530000", "520000"}),
        ("苏北口音", {"320000"}),
        ("温州话", {"330000"}),
        ("潮汕话", {"440000"}),
        ("天津话", {"120000"}),
        ("唐山话", {"130000"}),
        ("貴州口音", {"520000"}),  # traditional
        ("ｓ河南口音", {HENAN}),  # full-width noise
        ("普通话带山东口音", {SHANDONG}),  # 普通话 adds nothing, 山东 does
        ("河南口音，偶尔说普通话", {HENAN}),
        # fall back to a place name in the text
        ("商水口音", {HENAN}),
        ("河北沧州口音", {"130000"}),
        ("台州话", {"330000"}),
        # no evidence
        ("普通话", set()),
        ("无法交流", set()),
        ("聋哑", set()),
        ("不会说话", set()),
        ("南方口音", set()),
        ("外地口音", set()),
        ("abc", set()),
        ("口音", set()),
        ("", set()),
        ("   ", set()),
        (None, set()),
        (12345, set()),
        ("话" * 10_000, set()),
    ],
)
def test_dialect_provinces(raw, expected):
    result = dialect_provinces(raw)
    assert isinstance(result, frozenset)
    assert result == expected


def test_table_is_big_and_valid():
    table = dialect_table()
    assert len(table) >= 40
    real = set(divisions().loc[lambda d: d["level"] == "province", "code"])
    assert all(codes <= real for codes in table.values())
    assert table["普通话"] == frozenset()
