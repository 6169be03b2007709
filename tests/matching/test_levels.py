"""Table-driven: for one station record and one report, the level each comparison reaches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xunqin.matching.compare import compare, context
from xunqin.matching.predicates import Context
from xunqin.matching.features import prepare
from xunqin.matching.settings import default_settings

STATION = {
    "record_id": "S1",
    "name_clean": "王秀英",
    "name_kind": "full",
    "surname": "王",
    "given": "秀英",
    "name_core": "",
    "name_pinyin": "wang xiu ying",
    "name_folded": "wan xiu yin",
    "surname_pinyin": "wang",
    "given_pinyin": "xiu ying",
    "given_folded": "xiu yin",
    "core_pinyin": "",
    "gender": "女",
    "age_low": 60.0,
    "age_high": 66.0,
    "found_date": pd.Timestamp("2023-05-01"),
    "found_codes": "220104",
    "found_lat": 43.83,
    "found_lon": 125.29,
    "hometown_codes": "",
    "dialect_provinces": "",
    "height_cm": np.nan,
    "marks": "",
    "conditions": "",
    "id_number": "",
    "id_fragments": "",
}

REPORT = {
    "report_id": "R1",
    "name_clean": "王秀英",
    "surname": "王",
    "given": "秀英",
    "name_pinyin": "wang xiu ying",
    "name_folded": "wan xiu yin",
    "surname_pinyin": "wang",
    "given_pinyin": "xiu ying",
    "given_folded": "xiu yin",
    "alias_clean": "",
    "alias_pinyin": "",
    "alias_folded": "",
    "gender": "女",
    "birth_date": pd.Timestamp("1960-03-01"),
    "birth_precision": "day",
    "age_at_missing": np.nan,
    "missing_date": pd.Timestamp("2022-11-20"),
    "missing_codes": "220104",
    "missing_lat": 43.83,
    "missing_lon": 125.29,
    "hometown_codes": "",
    "height_cm": np.nan,
    "marks": "",
    "conditions": "",
    "id_number": "",
    "id_fragments": "",
}

# (description, comparison, station overrides, report overrides, expected level)
CASES = [
    ("placeholder name carries no weight", "name", {"name_kind": "placeholder", "name_clean": "无名氏", "name_pinyin": "", "name_folded": ""}, {}, "null"),
    ("empty station name", "name", {"name_kind": "empty", "name_clean": "", "name_pinyin": "", "name_folded": ""}, {}, "null"),
    ("same characters", "name", {}, {}, "exact"),
    ("station wrote the report's alias", "name", {"name_clean": "二丫", "name_pinyin": "er ya", "name_folded": "er ya", "name_kind": "nickname"}, {"alias_clean": "二丫", "alias_pinyin": "er ya", "alias_folded": "er ya"}, "nickname_exact"),
    ("a full name the report lists as a former name", "name", {"name_clean": "王翠花", "name_pinyin": "wang cui hua", "name_folded": "wan cui fa"}, {"alias_clean": "王翠花", "alias_pinyin": "wang cui hua", "alias_folded": "wan cui fa"}, "exact"),
    ("homophone characters, same pinyin", "name", {"name_clean": "王秀莹"}, {}, "pinyin"),
    ("surname read as surname: 单 shan", "name", {"name_clean": "单建国", "name_pinyin": "shan jian guo", "name_folded": "san jian guo"}, {"name_clean": "善建国", "name_pinyin": "shan jian guo", "name_folded": "san jian guo"}, "pinyin"),
    ("n/l dialect shift meets after folding", "name", {"name_clean": "刘建国", "name_pinyin": "liu jian guo", "name_folded": "liu jian guo"}, {"name_clean": "牛建国", "name_pinyin": "niu jian guo", "name_folded": "liu jian guo"}, "folded"),
    ("given name alone", "name", {"name_clean": "秀英", "name_kind": "given_only", "surname": "", "name_pinyin": "xiu ying", "name_folded": "xiu yin"}, {}, "given"),
    ("a character dropped: 王秀 for 王秀英", "name", {"name_clean": "王秀", "name_pinyin": "wang xiu", "name_folded": "wan xiu", "given_pinyin": "xiu", "given_folded": "xiu", "core_pinyin": "xiu"}, {}, "partial"),
    ("the middle character dropped: 王英 for 王秀英", "name", {"name_clean": "王英", "name_pinyin": "wang ying", "name_folded": "wan yin", "given_pinyin": "ying", "given_folded": "yin", "core_pinyin": "ying"}, {}, "partial"),
    ("two characters, the second not in the given name", "name", {"name_clean": "王红", "name_pinyin": "wang hong", "name_folded": "wan hong", "given_pinyin": "hong", "given_folded": "hong", "core_pinyin": "hong"}, {}, "else"),
    ("two characters, another surname", "name", {"name_clean": "李秀", "name_pinyin": "li xiu", "name_folded": "li xiu", "surname_pinyin": "li", "given_pinyin": "xiu", "given_folded": "xiu", "core_pinyin": "xiu"}, {}, "else"),
    ("nickname from the last character of the given name", "name", {"name_clean": "小英", "name_kind": "nickname", "name_pinyin": "xiao ying", "name_folded": "xiao yin", "given_pinyin": "", "given_folded": "", "core_pinyin": "ying"}, {}, "nickname_last"),
    ("nickname core in the given name, not the last character", "name", {"name_clean": "小秀", "name_kind": "nickname", "name_pinyin": "xiao xiu", "name_folded": "xiao xiu", "given_pinyin": "", "given_folded": "", "core_pinyin": "xiu"}, {}, "nickname_core"),
    ("surname only, same surname", "name", {"name_clean": "王某", "name_kind": "surname_only", "name_pinyin": "wang", "name_folded": "wan", "given_pinyin": "", "given_folded": ""}, {}, "surname"),
    ("surname only, other surname", "name", {"name_clean": "李某", "name_kind": "surname_only", "name_pinyin": "li", "name_folded": "li", "surname_pinyin": "li", "given_pinyin": "", "given_folded": ""}, {}, "else"),
    ("close pinyin", "name", {"name_clean": "王秀云", "name_pinyin": "wang xiu yun", "name_folded": "wan xiu yun", "given_pinyin": "xiu yun", "given_folded": "xiu yun"}, {}, "similar"),
    ("different name", "name", {"name_clean": "张志强", "name_pinyin": "zhang zhi qiang", "name_folded": "zan zi qian", "surname_pinyin": "zhang", "given_pinyin": "zhi qiang", "given_folded": "zi qian"}, {}, "else"),
    ("gender unknown", "gender", {"gender": None}, {}, "null"),
    ("gender same", "gender", {}, {}, "same"),
    ("gender differs", "gender", {"gender": "男"}, {}, "else"),
    ("age inside the estimate", "age", {}, {}, "within"),
    ("age two years over", "age", {}, {"birth_date": pd.Timestamp("1955-03-01")}, "close"),
    ("age nine years over an elderly estimate", "age", {}, {"birth_date": pd.Timestamp("1948-03-01")}, "near"),
    ("age far off", "age", {}, {"birth_date": pd.Timestamp("1990-03-01")}, "else"),
    ("age unknown at the station", "age", {"age_low": np.nan, "age_high": np.nan}, {}, "null"),
    ("report birth from age at missing", "age", {}, {"birth_date": pd.NaT, "birth_precision": "", "age_at_missing": 62}, "within"),
    ("year-only birth date", "age", {}, {"birth_date": pd.Timestamp("1960-07-01"), "birth_precision": "year"}, "within"),
    ("found before going missing", "dates", {}, {"missing_date": pd.Timestamp("2024-01-01")}, "found_before_missing"),
    ("found five months after going missing", "dates", {}, {}, "days_365"),
    ("found a week after going missing", "dates", {}, {"missing_date": pd.Timestamp("2023-04-24")}, "days_30"),
    ("found three years later", "dates", {}, {"missing_date": pd.Timestamp("2020-03-01")}, "years_5"),
    ("found twenty years later", "dates", {}, {"missing_date": pd.Timestamp("2003-03-01")}, "else"),
    ("no missing date", "dates", {}, {"missing_date": pd.NaT}, "null"),
    ("same county", "hometown", {"hometown_codes": "411623"}, {"hometown_codes": "411623"}, "county"),
    ("prefecture fragment against the county", "hometown", {"hometown_codes": "411600"}, {"hometown_codes": "411623"}, "prefecture"),
    ("province only", "hometown", {"hometown_codes": "410000"}, {"hometown_codes": "411623"}, "province"),
    ("ambiguous fragment: one candidate fits", "hometown", {"hometown_codes": "110105|220104"}, {"hometown_codes": "220104"}, "county"),
    ("other province", "hometown", {"hometown_codes": "370000"}, {"hometown_codes": "411623"}, "else"),
    ("no hometown said", "hometown", {}, {"hometown_codes": "411623"}, "null"),
    ("dialect points to the hometown province", "dialect", {"dialect_provinces": "410000"}, {"hometown_codes": "411623"}, "province"),
    ("north-east accent, Henan home", "dialect", {"dialect_provinces": "210000|220000|230000"}, {"hometown_codes": "411623"}, "else"),
    ("no dialect", "dialect", {}, {"hometown_codes": "411623"}, "null"),
    ("found where missing", "found_place", {}, {}, "km_30"),
    ("missing place not recognised", "found_place", {}, {"missing_lat": np.nan, "missing_lon": np.nan}, "null"),
    ("found in a nearby city", "found_place", {}, {"missing_lat": 44.5, "missing_lon": 126.0}, "km_150"),
    # along a meridian one degree is 111.19 km: 0.26 deg = 28.9 km, 0.28 deg = 31.1 km
    ("found 28.9 km north", "found_place", {}, {"missing_lat": 43.83 + 0.26, "missing_lon": 125.29}, "km_30"),
    ("found 31.1 km north", "found_place", {}, {"missing_lat": 43.83 + 0.28, "missing_lon": 125.29}, "km_150"),
    ("found 499 km east along the equator", "found_place", {"found_lat": 0.0, "found_lon": 100.0},
     {"missing_lat": 0.0, "missing_lon": 100.0 + 499 / 111.195}, "km_500"),
    ("found 501 km east along the equator", "found_place", {"found_lat": 0.0, "found_lon": 100.0},
     {"missing_lat": 0.0, "missing_lon": 100.0 + 501 / 111.195}, "else"),
    ("found in a neighbouring province", "found_place", {}, {"missing_lat": 41.8, "missing_lon": 123.4}, "km_500"),
    ("found across the country", "found_place", {}, {"missing_lat": 23.1, "missing_lon": 113.3}, "else"),
    ("heights within 3 cm", "height", {"height_cm": 158.0}, {"height_cm": 160.0, "age_at_missing": 40}, "cm_3"),
    ("heights within 7 cm", "height", {"height_cm": 154.0}, {"height_cm": 160.0}, "cm_7"),
    ("heights far apart", "height", {"height_cm": 175.0}, {"height_cm": 160.0}, "else"),
    ("a child who had years to grow", "height", {"height_cm": 150.0}, {"height_cm": 110.0, "birth_date": pd.Timestamp("2012-01-01"), "missing_date": pd.Timestamp("2018-01-01")}, "null"),
    ("same ID number", "id_number", {"id_number": "410123196003010024"}, {"id_number": "410123196003010024"}, "same"),
    ("tail fragment from notes", "id_number", {"id_fragments": "tail:0024"}, {"id_number": "410123196003010024"}, "tail"),
    ("two different full IDs", "id_number", {"id_number": "410123196003010040"}, {"id_number": "410123196003010024"}, "different"),
    ("tail that does not fit", "id_number", {"id_fragments": "tail:9999"}, {"id_number": "410123196003010024"}, "else"),
    ("no ID at the station", "id_number", {}, {"id_number": "410123196003010024"}, "null"),
    ("same mark, same side", "marks", {"marks": "疤:眉:左|疤:眉:|疤::"}, {"marks": "疤:眉:左|疤:眉:|疤::"}, "same_side"),
    ("same mark, side not said", "marks", {"marks": "疤:眉:|疤::"}, {"marks": "疤:眉:左|疤:眉:|疤::"}, "same_part"),
    ("a scar elsewhere", "marks", {"marks": "疤:手:右|疤:手:|疤::"}, {"marks": "疤:眉:左|疤:眉:|疤::"}, "same_kind"),
    ("different marks", "marks", {"marks": "痣:脸:|痣::"}, {"marks": "疤:眉:左|疤:眉:|疤::"}, "else"),
    ("no marks on one side", "marks", {}, {"marks": "疤:眉:左"}, "null"),
    ("both deaf-mute", "conditions", {"conditions": "聋哑"}, {"conditions": "聋哑|智力障碍"}, "shared"),
    ("no condition written at the station", "conditions", {}, {"conditions": "聋哑"}, "null"),
    ("conditions differ", "conditions", {"conditions": "老年痴呆"}, {"conditions": "聋哑"}, "else"),
]


@pytest.mark.parametrize("description,comparison,station,report,expected", CASES, ids=[c[0] for c in CASES])
def test_level(description, comparison, station, report, expected):
    settings = default_settings()
    prepared = prepare(pd.DataFrame([{**STATION, **station}]), pd.DataFrame([{**REPORT, **report}]))
    levels = compare(context(prepared), settings, np.array([0]), np.array([0]))
    position = [c.name for c in settings.comparisons].index(comparison)
    label = settings.comparisons[position].labels[levels[0, position]]
    assert label == expected, description


def test_every_comparison_level_is_exercised():
    """The table must reach every level of every comparison, so a dead level shows up."""
    reached = {(c[1], c[4]) for c in CASES}
    for comparison in default_settings().comparisons:
        for label in comparison.labels:
            if (comparison.name, label) not in reached:
                pytest.fail(f"no case reaches {comparison.name}={label}")


def test_found_place_levels_follow_the_great_circle_distance():
    """Many random places across China (and some missing): the found_place level of each pair is
    the first band its great-circle distance falls in, as the distance formula says; pairs
    within a metre of a band's edge are left out (either side of the edge is right for them)."""
    from xunqin.normalizers.places import haversine_km

    rng = np.random.default_rng(7)
    n = 400
    lat, lon = rng.uniform(18, 53, n), rng.uniform(73, 135, n)
    near = rng.random(n) < 0.5  # half close to the first record's place, so short bands fill too
    lat[near] = 30 + rng.normal(0, 1.5, near.sum())
    lon[near] = 114 + rng.normal(0, 1.5, near.sum())
    lat[rng.random(n) < 0.05] = np.nan
    stations = pd.DataFrame([{**STATION, "record_id": f"S{k}", "found_lat": lat[k], "found_lon": lon[k]} for k in range(n)])
    reports = pd.DataFrame([{**REPORT, "record_id": f"R{k}", "missing_lat": lat[::-1][k], "missing_lon": lon[::-1][k]}
                            for k in range(n)])
    settings = default_settings()
    position = [c.name for c in settings.comparisons].index("found_place")
    comparison = settings.comparisons[position]
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    levels = compare(context(prepare(stations, reports)), settings, i, j)[:, position]
    km = haversine_km(lat[i], lon[i], lat[::-1][j], lon[::-1][j])
    bands = [float(level.params["km"]) for level in comparison.levels if level.when == "distance_within"]
    edge = np.isclose(km[:, None], np.array(bands)[None, :], rtol=0, atol=0.001).any(axis=1)
    expected = np.where(np.isnan(km), "null", "else").astype(object)
    for band in sorted(bands, reverse=True):
        expected[km <= band] = f"km_{band:g}"
    got = np.array(comparison.labels, dtype=object)[levels]
    assert (~edge).sum() > 0.99 * len(km)
    assert set(expected) == {"null", "km_30", "km_150", "km_500", "else"}
    np.testing.assert_array_equal(got[~edge], expected[~edge])


def test_levels_are_the_same_with_and_without_tables_per_record():
    """Comparing from tables made per record (a full match) and from the values each pair
    gathers (a night's few pairs) gives every pair the same level of every comparison."""
    from pathlib import Path

    from xunqin.ingest import ingest_files

    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    tables = ingest_files(stations=sample / "stations.csv", reports=sample / "reports.csv")
    prepared = prepare(tables.stations, tables.reports)
    rng = np.random.default_rng(11)
    n = 60_000
    i, j = rng.integers(0, prepared.stations.n, n), rng.integers(0, prepared.reports.n, n)
    # and the pairs blocking would offer, where most levels above "else" are reached
    from xunqin.matching.blocking import index

    blocked = index(prepared, default_settings())
    i, j = np.concatenate([i, blocked.station_rows]), np.concatenate([j, blocked.report_rows])
    settings = default_settings()
    many = context(prepared)
    few = Context(prepared.stations, prepared.reports, many.vocab_strings, per_record_tables=False)
    assert many.per_record_tables and not context(prepared, pairs=10).per_record_tables
    with_tables, without = compare(many, settings, i, j), compare(few, settings, i, j)
    np.testing.assert_array_equal(with_tables, without)
    for c, comparison in enumerate(settings.comparisons):  # the levels were really reached
        assert len(np.unique(with_tables[:, c])) >= min(3, len(comparison.levels)), comparison.name
