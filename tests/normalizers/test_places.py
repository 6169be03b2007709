"""Tests for xunqin.normalizers.places."""

import math
import random
import time

import numpy as np
import pytest

from xunqin.normalizers.places import (
    Division,
    UnknownDivision,
    division,
    divisions,
    haversine_km,
    parse_place,
    place_parser,
)
from xunqin.normalizers.places import _clean, _clean_all

NE = {"210000", "220000", "230000"}


@pytest.mark.parametrize(
    ("raw", "level", "codes"),
    [
        # provinces, alone or in speech
        ("河南", "province", {"410000"}),
        ("河南省", "province", {"410000"}),
        ("老家山东的", "province", {"370000"}),
        ("山东人", "province", {"370000"}),
        ("内蒙", "province", {"150000"}),
        ("广西", "province", {"450000"}),
        ("新疆", "province", {"650000"}),
        ("吉林", "province", {"220000"}),  # the province, not 吉林市
        ("海南", "province", {"460000"}),  # not 海南藏族自治州
        ("东北", "province", NE),  # regional name: all three provinces
        ("东北人", "province", NE),
        # short city / county names
        ("周口", "prefecture", {"411600"}),
        ("驻马店", "prefecture", {"411700"}),
        ("商水", "county", {"411623"}),
        ("老家商水的", "county", {"411623"}),
        ("恩施", "prefecture", {"422800"}),  # 自治州 over 恩施市
        ("延边", "prefecture", {"222400"}),
        ("东莞", "prefecture", {"441900"}),  # prefecture with no counties
        ("仙桃", "county", {"429004"}),  # 省直辖县
        ("济源市", "county", {"419001"}),
        ("浦东", "county", {"310115"}),
        # full addresses and missing levels
        ("河南省周口市商水县城关乡王庄村", "county", {"411623"}),
        ("吉林省长春市朝阳区红旗街", "county", {"220104"}),
        ("周口商水", "county", {"411623"}),
        ("河南周口商水", "county", {"411623"}),
        ("吉林长春", "prefecture", {"220100"}),
        ("吉林省吉林市", "prefecture", {"220200"}),
        ("新疆乌鲁木齐", "prefecture", {"650100"}),
        ("东莞市长安镇", "prefecture", {"441900"}),  # 长安镇 is not 长安区
        ("北京市朝阳区中山路", "county", {"110105"}),  # 中山路 is a street
        ("济南市中区", "county", {"370103"}),
        ("山东省青岛市市南区山东路", "county", {"370202"}),
        # ambiguous county names
        ("朝阳区", "county", {"110105", "220104"}),
        ("长春市朝阳区", "county", {"220104"}),
        ("北京朝阳", "county", {"110105"}),
        ("鼓楼区", "county", {"320106", "320302", "350102", "410204"}),
        ("江苏南京鼓楼区", "county", {"320106"}),
        ("福建福州鼓楼", "county", {"350102"}),
        ("新华区", "county", {"130105", "130902", "410402"}),
        ("石家庄新华区", "county", {"130105"}),
        # 乾 (qián) is a simplified character too: t2s alone turns 乾县 into 干县
        ("陕西省咸阳市乾县", "county", {"610424"}),
        ("吉林乾安县", "county", {"220723"}),
        ("城关区", "county", {"540102", "620102"}),
        ("拉萨城关", "county", {"540102"}),
        # old names
        ("襄樊", "prefecture", {"420600"}),
        ("湖北省襄樊市", "prefecture", {"420600"}),
        ("巢湖地区", "prefecture", {"340100", "340200", "340500"}),
        ("巢湖", "county", {"340181"}),  # today's county-level 巢湖市
        ("通什", "county", {"469001"}),
        ("思茅市", "prefecture", {"530800"}),
        ("密云县", "county", {"110118"}),  # 撤县设区 2015
        ("北京市崇文区", "county", {"110101"}),
        ("四川省达县", "county", {"511703"}),
        ("鄠邑区", "county", {"610125"}),  # newer than the table
        ("临安区", "county", {"330185"}),  # 临安市 -> 临安区 2017, generic suffix drift
        # traditional and full-width
        ("廣東省廣州市", "prefecture", {"440100"}),
        ("臺灣", "province", {"710000"}),
        ("河南省　周口市（商水县）", "county", {"411623"}),
        ("ＨＥＮＡＮ河南", "province", {"410000"}),
        # codes
        ("411623", "county", {"411623"}),
        ("411623000000", "county", {"411623"}),
    ],
)
def test_parse_place(raw, level, codes):
    place = parse_place(raw)
    assert place is not None
    assert place.raw == raw
    assert place.level == level
    assert {d.code for d in place.candidates} == codes


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "\u3000",
        "不详",
        "未知",
        "？",
        "abc",
        "ＨＥＮＡＮ",
        "城关镇",  # a town name, not the 城关区 districts
        "红旗街",  # street, not 新乡 红旗区
        "新华街",
        "人民路123号",
        "999999",
        "123",
        "河" * 10_000,
        float("nan"),
    ],
)
def test_parse_place_nothing(raw):
    assert parse_place(raw) is None


def test_parse_place_rejects_non_text():
    with pytest.raises(ValueError):
        parse_place(["河南"])


def test_long_input_is_cut_not_slow():
    start = time.perf_counter()
    assert parse_place("河南省" + "啊" * 100_000).candidates[0].code == "410000"
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize(
    ("code", "name", "level", "province", "prefecture"),
    [
        ("410000", "河南省", "province", "410000", None),
        ("411600", "周口市", "prefecture", "410000", "411600"),
        ("411623", "商水县", "county", "410000", "411600"),
        ("110105", "朝阳区", "county", "110000", None),  # municipal district
        ("419001", "济源市", "county", "410000", None),  # 省直辖县
        ("441900", "东莞市", "prefecture", "440000", "441900"),
        ("469001", "五指山市", "county", "460000", None),
        ("411623000000", "商水县", "county", "410000", "411600"),
    ],
)
def test_division(code, name, level, province, prefecture):
    d = division(code)
    assert isinstance(d, Division)
    assert (d.name, d.level, d.province, d.prefecture) == (name, level, province, prefecture)
    assert 18 < d.lat < 54 and 73 < d.lon < 136


@pytest.mark.parametrize("code", ["110100", "419000", "500200", "000000", "", "abc", "4116230"])
def test_division_unknown(code):
    with pytest.raises(UnknownDivision):
        division(code)
    with pytest.raises(KeyError):
        division(code)


def test_divisions_table():
    df = divisions()
    assert list(df.columns) == ["code", "name", "level", "province", "prefecture", "lat", "lon"]
    assert df["code"].is_unique
    assert not df["name"].isin(["市辖区", "省直辖县级行政区划", "县"]).any()
    assert df["lat"].notna().all() and df["lon"].notna().all()
    assert (df["level"] == "province").sum() == 34
    assert divisions() is divisions()  # cached


def test_dirty_coordinates_fall_back_to_an_ancestor():
    # 定州 has no coordinates in the source table: it gets 河北's.
    assert (division("139001").lat, division("139001").lon) == (
        division("130000").lat, division("130000").lon)


@pytest.mark.parametrize(
    ("a", "b", "km", "tol"),
    [
        ((39.9042, 116.4074), (31.2304, 121.4737), 1067, 15),  # Beijing - Shanghai
        ((39.9042, 116.4074), (39.9042, 116.4074), 0, 0.001),
        ((0, 0), (0, 180), math.pi * 6371.0088, 1),
        ((43.8171, 125.3235), (33.6261, 114.6969), 1470, 30),  # 长春 - 周口
    ],
)
def test_haversine(a, b, km, tol):
    assert abs(float(haversine_km(*a, *b)) - km) <= tol


def test_haversine_vectorized():
    lat = np.array([39.9, 31.2, 43.8])
    lon = np.array([116.4, 121.5, 125.3])
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert d.shape == (3, 3)
    assert np.allclose(np.diag(d), 0)
    assert np.allclose(d, d.T)


def test_many_repeated_strings_are_fast():
    df = divisions()
    pool = [f"{p}{n}某某村" for p, n in zip(df["name"].sample(2000, random_state=1, replace=True),
                                          df["name"].sample(2000, random_state=2, replace=True))]
    values = pool * 100  # 200k values, many repeats
    start = time.perf_counter()
    parsed = [parse_place(v) for v in values]
    assert time.perf_counter() - start < 20
    assert sum(p is not None for p in parsed) == len(values)


# what a column of places holds: full addresses, fragments, old names, traditional and
# full-width text, codes, placeholders, punctuation, combining marks, the converter's exceptions
COLUMN = [
    "河南省周口市商水县城关乡王庄村3组", "河南周口商水", "老家山东的", "周口地区", "襄樊", "東北",
    "臺灣省臺北市", "廣東省廣州市越秀區", "ＨＥＮＡＮ", "河南省，周口市（商水县）", "  吉林 ", "\u3000内蒙",
    "乾县", "陕西省咸阳市乾县城关镇", "乾安縣", "411623", "411623000000", "999999", "不详", "？", "",
    "人民路123号", "新华街", "河" * 500, "e\u0301\u0301河南", "Σ河南ΑΣ", "ﬁ㍿河北", "İ山西", "河南\u200b省",
    "广西壮族自治区河池市东兰县永兴镇安湾村", "辽宁省盘锦市兴隆台区五里街道五朱社区迎宾北路86号",
]


def test_place_parser_gives_what_parse_place_gives():
    values = [*COLUMN, 411623, float("nan"), None]
    parse = place_parser(values)
    for value in values:
        assert parse(value) == parse_place(value), value
    with pytest.raises(ValueError):
        parse(["河南"])


def test_place_parser_with_nul_in_a_text():
    values = ["河南\x00省周口市", "商水县"]  # NUL would cut the joined texts wrongly: cleaned one by one
    parse = place_parser(values)
    assert [parse(v) for v in values] == [parse_place(v) for v in values]


def test_clean_all_equals_clean_one_by_one():
    assert _clean_all(COLUMN) == [_clean(t) for t in COLUMN]
    assert _clean_all([]) == []
    # random texts from characters NFKC, t2s and lower() treat specially, in batches
    alphabet = ("河南省周口市商水縣臺灣乾县ＡＢＣ１２\u3000,，。.e\u0301\u0308a\u1100\u1161\u11a8ΣΑ ﬁ㍿İ"
                "\u200b\t\n\u2028\uff61\U00020000\x00")
    rng = random.Random(20261203)
    for _ in range(3000):
        batch = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(1, 6))]
        assert _clean_all(batch) == [_clean(t) for t in batch], batch
        clean = [t.replace("\x00", "") for t in batch]
        assert _clean_all(clean) == [_clean(t) for t in clean], clean


def test_clean_all_when_the_converter_tables_are_not_found(monkeypatch):
    """Another OpenCC version may keep its tables elsewhere (no set of the characters it
    changes): every text then goes through the converter, the empty ones included."""
    from xunqin.normalizers import text

    monkeypatch.setattr(text, "_changing_chars", lambda: None)
    assert _clean_all(COLUMN) == [_clean(t) for t in COLUMN]
    assert place_parser(COLUMN)("") is None
    from xunqin.normalizers.features import feature_parser, parse_features

    parse = feature_parser(COLUMN)
    assert [parse(t) for t in COLUMN] == [parse_features(t) for t in COLUMN]
