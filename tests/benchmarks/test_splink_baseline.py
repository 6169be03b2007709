"""Splink baseline: derived columns (table-driven) and an end-to-end run on a small
synthetic pair of tables with obvious true pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("splink")
pytest.importorskip("duckdb")

from xunqin.matching.evaluation import ranking_metrics  # noqa: E402
from benchmarks.splink_baseline import (  # noqa: E402
    SPLINK_COLUMNS,
    SplinkResult,
    blocking_rules,
    em_blocking_rules,
    count_blocked_pairs,
    prepare_reports,
    prepare_stations,
    run_splink,
)

STATION_BASE = {
    "record_id": "ST1",
    "name_clean": "王秀英",
    "name_kind": "full",
    "surname": "王",
    "given": "秀英",
    "name_pinyin": "wang xiu ying",
    "surname_pinyin": "wang",
    "given_pinyin": "xiu ying",
    "gender": "女",
    "age_low": 60.0,
    "age_high": 70.0,
    "found_date": pd.Timestamp("2023-05-01"),
    "hometown_provinces": "410000",
    "hometown_prefectures": "411600",
    "hometown_codes": "411623",
    "dialect_provinces": "410000",
    "height_cm": 158.0,
    "marks": "scar_left_brow|dementia",
    "id_number": None,
}

# (overrides, column, expected derived value)
STATION_CASES = [
    pytest.param({}, "name_py", "wangxiuying", id="full-name-spaces-removed"),
    pytest.param({}, "surname_py", "wang", id="surname"),
    pytest.param({}, "given_py", "xiuying", id="given-spaces-removed"),
    pytest.param({}, "birth_year", 1958, id="found-year-minus-age-mid"),
    pytest.param({"age_low": 60.0, "age_high": 60.0}, "birth_year", 1963, id="point-age"),
    pytest.param({"age_high": np.nan}, "birth_year", 1963, id="only-low-bound"),
    pytest.param({"age_low": None, "age_high": None}, "birth_year", None, id="no-age"),
    pytest.param({"found_date": pd.NaT}, "birth_year", None, id="no-found-date"),
    pytest.param({"name_pinyin": "shan guo|dan guo"}, "name_py", "shanguo",
                 id="heteronym-first-key"),
    pytest.param({"name_pinyin": "  Wang  Xiu Ying "}, "name_py", "wangxiuying",
                 id="stray-spaces-and-case"),
    pytest.param({"name_kind": "placeholder", "name_pinyin": "wu ming shi",
                  "surname_pinyin": "wu", "given_pinyin": "ming shi"}, "name_py", None,
                 id="placeholder-name-null"),
    pytest.param({"name_kind": "placeholder", "surname_pinyin": "wu"}, "surname_py", None,
                 id="placeholder-surname-null"),
    pytest.param({"name_kind": "empty", "given_pinyin": "x"}, "given_py", None,
                 id="empty-given-null"),
    pytest.param({"name_kind": "surname_only", "name_pinyin": "wang mou",
                  "given_pinyin": None}, "name_py", None, id="surname-only-no-full-name"),
    pytest.param({"name_kind": "surname_only", "given_pinyin": None}, "surname_py", "wang",
                 id="surname-only-keeps-surname"),
    pytest.param({"name_kind": "nickname", "name_pinyin": "xiao hong"}, "alias_py",
                 "xiaohong", id="nickname-also-compared-as-alias"),
    # Ingest leaves name_pinyin empty for nicknames: romanise the nickname text.
    pytest.param({"name_kind": "nickname", "name_clean": "莉莉", "name_pinyin": None},
                 "alias_py", "lili", id="nickname-without-pinyin-romanised"),
    pytest.param({"name_kind": "nickname", "name_clean": "二娃", "name_pinyin": None},
                 "name_py", None, id="nickname-not-a-full-name-key"),
    pytest.param({"name_kind": "full", "name_clean": "莉莉", "name_pinyin": None},
                 "alias_py", None, id="full-name-never-alias"),
    pytest.param({}, "alias_py", None, id="full-name-no-alias"),
    pytest.param({"gender": None}, "gender", None, id="gender-missing"),
    pytest.param({"gender": "未知"}, "gender", None, id="gender-unknown-token"),
    pytest.param({"hometown_provinces": "410000|370000"}, "province", "410000",
                 id="first-province"),
    pytest.param({"hometown_provinces": ""}, "province", None, id="empty-province"),
    pytest.param({"hometown_prefectures": None}, "prefecture", None, id="no-prefecture"),
    pytest.param({"height_cm": 9999.0}, "height_cm", None, id="absurd-height-null"),
    pytest.param({"height_cm": None}, "height_cm", None, id="missing-height"),
    pytest.param({"id_number": "41162319580101002x"}, "id_number", "41162319580101002X",
                 id="id-upper-x"),
    pytest.param({"id_number": "1234"}, "id_number", None, id="id-fragment-ignored"),
    pytest.param({"marks": "b|a|a| "}, "marks", ["a", "b"], id="marks-dedup-sorted"),
    pytest.param({"marks": ""}, "marks", None, id="marks-empty"),
    pytest.param({"record_id": 17}, "unique_id", "17", id="int-id-as-str"),
    pytest.param({"name_kind": None}, "name_py", "wangxiuying", id="unknown-kind-as-full"),
    # the derived keys xunqin blocks and compares on
    pytest.param({"name_pinyin": "zhang li ning"}, "name_folded", "zanlilin", id="folded-name"),
    pytest.param({"given_pinyin": "hong ying"}, "given_folded", "hongyin", id="folded-given"),
    pytest.param({"name_kind": "surname_only"}, "name_folded", None, id="surname-only-no-folded-name"),
    pytest.param({"name_kind": "nickname", "core_pinyin": "hong"}, "core_folded", ["hong"], id="nickname-core"),
    pytest.param({"name_kind": "given_only", "core_pinyin": "xiu ying"}, "core_folded", ["xiuyin"],
                 id="given-only-core"),
    pytest.param({"core_pinyin": "ying"}, "core_folded", None, id="full-name-no-core"),
    pytest.param({"dialect_provinces": "510000"}, "provinces", ["410000", "510000"],
                 id="provinces-hometown-and-dialect"),
    pytest.param({"hometown_provinces": None, "dialect_provinces": None}, "provinces", None,
                 id="no-provinces"),
]


def _is_null(v: object) -> bool:
    return v is None or (not isinstance(v, list) and pd.isna(v))


@pytest.mark.parametrize("overrides, col, want", STATION_CASES)
def test_prepare_stations(overrides, col, want):
    df = pd.DataFrame([{**STATION_BASE, **overrides}])
    got = prepare_stations(df)
    assert list(got.columns) == SPLINK_COLUMNS
    v = got[col].iloc[0]
    if want is None:
        assert _is_null(v)
    else:
        assert v == want


REPORT_BASE = {
    "report_id": "RP1",
    "name_clean": "王秀英",
    "surname": "王",
    "given": "秀英",
    "name_pinyin": "wang xiu ying",
    "surname_pinyin": "wang",
    "given_pinyin": "xiu ying",
    "alias_clean": "小英|英子",
    "gender": "女",
    "birth_date": pd.Timestamp("1958-03-02"),
    "missing_date": pd.Timestamp("2021-10-01"),
    "hometown_provinces": "410000",
    "hometown_prefectures": "411600",
    "hometown_codes": "411623",
    "height_cm": 160.0,
    "marks": "scar_left_brow",
    "id_number": "411623195803020025",
}

REPORT_CASES = [
    pytest.param({}, "birth_year", 1958, id="birth-year"),
    pytest.param({"birth_date": pd.NaT}, "birth_year", None, id="no-birth-date"),
    pytest.param({"birth_date": pd.NaT, "age_at_missing": 63}, "birth_year", 1958,
                 id="from-age-at-missing"),
    pytest.param({"age_at_missing": 10}, "birth_year", 1958, id="birth-date-wins"),
    pytest.param({}, "alias_py", "xiaoying", id="first-alias-pinyin"),
    pytest.param({"alias_clean": "二娃"}, "alias_py", "erwa", id="alias-erwa"),
    pytest.param({"alias_clean": None}, "alias_py", None, id="no-alias"),
    pytest.param({"alias_clean": "  "}, "alias_py", None, id="blank-alias"),
    pytest.param({"alias_clean": "ABC"}, "alias_py", "abc", id="latin-alias"),
    pytest.param({}, "name_py", "wangxiuying", id="name"),
    pytest.param({}, "id_number", "411623195803020025", id="id-kept"),
    pytest.param({"gender": "男"}, "gender", "男", id="gender-male"),
    pytest.param({"given_pinyin": "xiu ying", "alias_pinyin": "xiao ying|hong"}, "core_folded",
                 ["hong", "xiao", "xiu", "yin"], id="report-core-syllables"),
    pytest.param({"given_pinyin": None}, "core_folded", None, id="report-no-syllables"),
]


@pytest.mark.parametrize("overrides, col, want", REPORT_CASES)
def test_prepare_reports(overrides, col, want):
    got = prepare_reports(pd.DataFrame([{**REPORT_BASE, **overrides}]))
    assert list(got.columns) == SPLINK_COLUMNS
    v = got[col].iloc[0]
    if want is None:
        assert _is_null(v)
    else:
        assert v == want


def test_prepare_tolerates_missing_optional_columns():
    minimal = pd.DataFrame({"record_id": ["a", "b"], "found_date": [pd.NaT, pd.NaT]})
    got = prepare_stations(minimal)
    assert got["unique_id"].tolist() == ["a", "b"]
    assert got.drop(columns="unique_id").isna().all().all()


# ---------------------------------------------------------------- synthetic data

SURNAMES = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou",
            "xu", "sun", "ma", "zhu", "hu", "guo", "he", "gao", "lin", "luo"]
SYLLABLES = ["xiu", "ying", "hua", "ming", "jun", "fang", "li", "guo", "qiang", "hong",
             "mei", "lan", "jian", "ping", "yun", "zhi", "wei", "gui", "zhen", "bao",
             "feng", "chun", "shu", "yu", "de", "cai", "xia", "rong", "lin", "hai"]
PROVINCES = ["410000", "370000", "220000", "510000", "130000"]


def make_tables(n_st: int = 200, n_rep: int = 2000, seed: int = 1, noisy: bool = True):
    """Reports 0..n_st-1 are the true matches of stations 0..n_st-1; 10% of stations
    have a placeholder name, 15% a one-letter pinyin typo in the given name. ``noisy``
    adds what staff get wrong: a wrong home province (10%), an unknown gender (5%) and
    a badly estimated height (10%)."""
    rng = np.random.default_rng(seed)

    def given() -> str:
        k = rng.choice([1, 2], p=[0.3, 0.7])
        return " ".join(rng.choice(SYLLABLES, k))

    sur = rng.choice(SURNAMES, n_rep)
    giv = [given() for _ in range(n_rep)]
    prov = rng.choice(PROVINCES, n_rep)
    birth = rng.integers(1940, 2015, n_rep)
    gender = rng.choice(["男", "女"], n_rep)
    height = rng.normal(163, 8, n_rep).round()
    reports = pd.DataFrame(
        {
            "report_id": [f"R{i:05d}" for i in range(n_rep)],
            "name_clean": "x",
            "surname": "x",
            "given": "x",
            "name_pinyin": [f"{s} {g}" for s, g in zip(sur, giv)],
            "surname_pinyin": sur,
            "given_pinyin": giv,
            "alias_clean": None,
            "gender": gender,
            "birth_date": pd.to_datetime([f"{y}-06-15" for y in birth]),
            "missing_date": pd.Timestamp("2022-01-01"),
            "hometown_provinces": prov,
            "hometown_prefectures": [p[:2] + "0100" for p in prov],
            "hometown_codes": None,
            "height_cm": height,
            "marks": None,
            "id_number": None,
        }
    )
    kinds = np.where(rng.random(n_st) < 0.1, "placeholder", "full")
    typo = rng.random(n_st) < 0.15
    st_giv = []
    for i in range(n_st):
        g = giv[i]
        if typo[i]:
            g = g[:-1] if len(g) > 2 else g + "n"  # e.g. ying -> yin
        st_giv.append(g)
    found = pd.Timestamp("2023-05-01")
    age = found.year - birth[:n_st] + rng.integers(-4, 5, n_st)  # staff estimate
    stations = pd.DataFrame(
        {
            "record_id": [f"S{i:04d}" for i in range(n_st)],
            "name_clean": "x",
            "name_kind": kinds,
            "surname": "x",
            "given": "x",
            "name_pinyin": [f"{s} {g}" for s, g in zip(sur[:n_st], st_giv)],
            "surname_pinyin": sur[:n_st],
            "given_pinyin": st_giv,
            "gender": gender[:n_st],
            "age_low": (age - 5).astype(float),
            "age_high": (age + 5).astype(float),
            "found_date": found,
            "hometown_provinces": prov[:n_st],
            "hometown_prefectures": [p[:2] + "0100" for p in prov[:n_st]],
            "hometown_codes": None,
            "dialect_provinces": None,
            "height_cm": height[:n_st] + rng.integers(-2, 3, n_st),
            "marks": None,
            "id_number": None,
        }
    )
    if noisy:
        wrong = rng.random(n_st) < 0.1
        st_prov = stations["hometown_provinces"].to_numpy(copy=True)
        st_prov[wrong] = rng.choice(PROVINCES, wrong.sum())
        stations["hometown_provinces"] = st_prov
        stations["hometown_prefectures"] = [p[:2] + "0100" for p in st_prov]
        stations.loc[rng.random(n_st) < 0.05, "gender"] = None
        off = rng.random(n_st) < 0.1
        stations.loc[off, "height_cm"] += rng.choice([-12, 12], off.sum())
    truth = pd.DataFrame(
        {
            "station_record_id": stations["record_id"],
            "report_id": reports["report_id"][:n_st],
            "name_kind": kinds,
        }
    )
    return stations, reports, truth


@pytest.fixture(scope="module")
def synthetic():
    stations, reports, truth = make_tables()
    return stations, reports, truth, run_splink(stations, reports, top_k=10, threads=2)


def test_run_splink_shape(synthetic):
    stations, reports, _, res = synthetic
    assert isinstance(res, SplinkResult)
    c = res.candidates
    assert list(c.columns) == ["station_record_id", "report_id", "rank", "score"]
    assert set(c["station_record_id"]) <= set(stations["record_id"])
    assert set(c["report_id"]) <= set(reports["report_id"])
    assert c.groupby("station_record_id").size().max() <= 10
    assert not c.duplicated(["station_record_id", "report_id"]).any()
    # Ranks are 1..n within each station record and follow the score.
    for _, g in c.groupby("station_record_id"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert g["score"].is_monotonic_decreasing
    assert res.n_pairs >= len(c) > 0
    assert res.n_pairs < len(stations) * len(reports)  # blocking did block
    assert res.seconds > 0 and math.isfinite(res.seconds)


def test_run_splink_finds_obvious_matches(synthetic):
    _, _, truth, res = synthetic
    named = truth[truth["name_kind"] == "full"]
    m = ranking_metrics(res.candidates, named)
    assert m.n_queries == len(named)
    assert m.recall_at_1 >= 0.9
    assert m.recall_at_10 >= 0.95


def test_run_splink_top_k_and_bad_k(synthetic):
    stations, reports, truth, _ = synthetic
    res = run_splink(stations.head(50), reports, top_k=1, threads=1)
    assert (res.candidates["rank"] == 1).all()
    assert res.candidates["station_record_id"].is_unique
    with pytest.raises(ValueError):
        run_splink(stations, reports, top_k=0)


def test_run_splink_survives_degenerate_em():
    # Without noise no true pair differs on province/height, so EM drives those m
    # values to 0.0, which plain Splink 5.0.0 rejects with a ValueError.
    stations, reports, truth = make_tables(100, 1000, seed=5, noisy=False)
    res = run_splink(stations, reports, top_k=5, threads=1)
    named = truth[truth["name_kind"] == "full"]
    assert ranking_metrics(res.candidates, named).recall_at_1 >= 0.9


def test_count_blocked_pairs(synthetic):
    stations, reports, _, res = synthetic
    counts = count_blocked_pairs(stations, reports)
    assert len(counts) == len(blocking_rules())  # one row per prediction rule
    # Exact counting (sample=1.0) must agree with the pairs predict() scored.
    assert int(counts["cumulative_comparison_count"].iloc[-1]) == res.n_pairs
    assert (counts["marginal_comparison_count"] >= 0).all()


def test_em_rules_name_implied_columns():
    # A comparison whose column is implied by (but not named in) an EM blocking rule
    # always agrees inside the block and makes EM call every pair a match.
    sqls = [r.get_blocking_rule("duckdb").blocking_rule_sql for r in em_blocking_rules()]
    for sql in sqls:
        if "name_py" in sql:
            assert "surname_py" in sql and "given_py" in sql
        if "prefecture" in sql:
            assert "province" in sql
    # One session trains the names (no name column in it), one the demographics.
    assert any("name_py" not in q and "given_py" not in q for q in sqls)
    assert any("name_py" in q for q in sqls)
