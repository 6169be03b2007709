"""Tests of the sample-data generator (xunqin.data.generate): the sample_v1 model the checked-in
sample was made with (most tests below), and the independent model (tests at the end)."""
from __future__ import annotations

import re
from datetime import date
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
from opencc import OpenCC
from pypinyin import lazy_pinyin

from xunqin.data import generate_ref as ref
from xunqin.data import generate_text as tx
from xunqin.data.generate import (NAME_FORMS, NAME_FORMS_V1, REPORT_COLUMNS, REPORT_ZH, SAMPLE,
                                  STATION_COLUMNS, STATION_ZH, TRUTH_COLUMNS, GeneratorParams, generate,
                                  id_check_ok, id_numbers, write)

V1 = GeneratorParams(model="sample_v1")

N_ST, N_REP = 2000, 20000


@pytest.fixture(scope="module")
def medium():
    return generate(N_ST, N_REP, seed=11, params=V1)


@pytest.fixture(scope="module")
def joined(medium):
    t = medium.truth.merge(medium.stations, left_on="station_record_id", right_on="record_id")
    return t.merge(medium.reports, on="report_id", suffixes=("_s", "_r"))


# ---------------------------------------------------------------- independent helpers


def _check_char(id17: str) -> str:
    w = [2 ** (17 - i) % 11 for i in range(17)]  # GB 11643 weights, derived not copied
    return "10X98765432"[sum(int(c) * k for c, k in zip(id17, w)) % 11]


_DATE_RES = (
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$"))


def _parse_date(s: str) -> date:
    for r in _DATE_RES:
        m = r.match(s)
        if m:
            return date(*map(int, m.groups()))
    raise AssertionError(f"unexpected date form {s!r}")


# ---------------------------------------------------------------- determinism and shape


def test_deterministic_for_a_seed():
    a, b = generate(150, 1500, seed=3), generate(150, 1500, seed=3)
    for x, y in ((a.stations, b.stations), (a.reports, b.reports), (a.truth, b.truth)):
        pd.testing.assert_frame_equal(x, y)
    c = generate(150, 1500, seed=4)
    assert not c.stations.equals(a.stations)


def test_columns_and_string_values(medium):
    assert tuple(medium.stations.columns) == STATION_COLUMNS
    assert tuple(medium.reports.columns) == REPORT_COLUMNS
    assert tuple(medium.truth.columns) == TRUTH_COLUMNS
    for df in (medium.stations, medium.reports, medium.truth):
        assert df.map(lambda v: isinstance(v, str)).all().all()
    assert len(medium.stations) == N_ST and len(medium.reports) == N_REP


def test_ids_unique_and_truth_refers_to_existing_ids(medium):
    assert medium.stations["record_id"].is_unique
    assert medium.reports["report_id"].is_unique
    assert not medium.truth.duplicated(["station_record_id", "report_id"]).any()
    assert medium.truth["station_record_id"].isin(medium.stations["record_id"]).all()
    assert medium.truth["report_id"].isin(medium.reports["report_id"]).all()
    assert set(medium.truth["name_form"]) <= set(NAME_FORMS)


def test_truth_pairs_are_the_same_person(joined):
    # Same person: gender agrees where both known, IDs agree where both given.
    g = {"男": "M", "男性": "M", "M": "M", "女": "F", "女性": "F", "F": "F"}
    known = joined["gender_s"].isin(list(g)) & joined["gender_r"].isin(list(g))
    assert (joined.loc[known, "gender_s"].map(g) == joined.loc[known, "gender_r"].map(g)).all()
    both = (joined["id_number_s"] != "") & (joined["id_number_r"] != "")
    assert both.sum() > 0
    assert (joined.loc[both, "id_number_s"] == joined.loc[both, "id_number_r"]).all()


def test_found_after_missing_for_true_pairs(joined):
    found = joined["found_date"].map(_parse_date)
    missing = joined["missing_date"].map(_parse_date)
    assert (found > missing).all()
    assert (found <= date(2026, 11, 29)).all()
    assert (missing >= date(1989, 12, 1)).all()


def test_ids_are_valid_and_consistent(medium):
    ids = pd.concat([medium.reports["id_number"], medium.stations["id_number"]])
    ids = ids[ids != ""]
    assert len(ids) > 9000
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    assert all(_check_char(s[:17]) == s[17] for s in ids)
    rep = medium.reports
    full = rep[(rep["id_number"] != "") & rep["birth_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")]
    assert (full["id_number"].str[6:14] == full["birth_date"].str.replace("-", "")).all()
    sexed = rep[(rep["id_number"] != "") & rep["gender"].isin(["男", "女"])]
    odd = sexed["id_number"].str[16].astype(int) % 2 == 1
    assert (odd == (sexed["gender"] == "男")).all()
    # Region = an existing county-level code.
    assert set(ids.str[:6].astype(int)) <= set(ref.geo().code.tolist())


def test_phones_are_obviously_fake(medium):
    assert medium.reports["contact_phone"].str.fullmatch(r"(1700000\d{4}|170-0000-\d{4})?").all()


# ---------------------------------------------------------------- rates


def _share(s: pd.Series) -> float:
    return float(s.mean())


RATES = [
    # (what, function of (gen, truth-per-station-record), expected, tolerance)
    ("match_rate", lambda g, t: t["station_record_id"].nunique() / len(g.stations), 0.70, 0.01),
    ("placeholder", lambda g, t: _share(t["name_form"] == "placeholder"), 0.30, 0.04),
    ("exact", lambda g, t: _share(t["name_form"] == "exact"), 0.25, 0.05),
    ("sound forms", lambda g, t: _share(t["name_form"].isin(
        ["homophone", "dialect", "surname_misread"])), 0.20, 0.04),
    ("nickname", lambda g, t: _share(t["name_form"] == "nickname"), 0.10, 0.03),
    ("given_only", lambda g, t: _share(t["name_form"] == "given_only"), 0.08, 0.025),
    ("surname_only", lambda g, t: _share(t["name_form"] == "surname_only"), 0.05, 0.02),
    ("gender unknown", lambda g, t: _share(g.stations["gender"] == "未知"), 0.03, 0.012),
    ("age unknown", lambda g, t: _share(g.stations["estimated_age"] == "不详"), 0.10, 0.025),
    ("hometown missing", lambda g, t: _share(g.stations["hometown"] == ""), 0.35, 0.04),
    ("dialect empty", lambda g, t: _share(g.stations["dialect"] == ""), 0.40, 0.04),
    ("station height", lambda g, t: _share(g.stations["height_cm"] != ""), 0.50, 0.04),
    ("station full id", lambda g, t: _share(g.stations["id_number"] != ""), 0.03, 0.012),
    ("station id fragment", lambda g, t: _share(g.stations["notes"].str.contains(r"\d{4}")), 0.03, 0.012),
    ("report aliases", lambda g, t: _share(g.reports["aliases"] != ""), 0.30, 0.02),
    ("report id", lambda g, t: _share(g.reports["id_number"] != ""), 0.50, 0.02),
    ("report birth missing", lambda g, t: _share(g.reports["birth_date"] == ""), 0.1525, 0.02),
    ("report phone", lambda g, t: _share(g.reports["contact_phone"] != ""), 0.90, 0.015),
    ("twice reported", lambda g, t: _share(t["n_reports"] == 2), 0.05, 0.02),
    ("two stations", lambda g, t: _share(t.groupby("person_id")["station_record_id"].transform(
        "nunique") == 2), 0.06, 0.03),  # share of records whose person has two (2 x 3% / 1.03)
]


@pytest.mark.parametrize("what,fn,expected,tol", RATES, ids=[r[0] for r in RATES])
def test_rates_near_parameters(medium, what, fn, expected, tol):
    t = medium.truth.copy()
    t["n_reports"] = t.groupby("station_record_id")["report_id"].transform("size")
    per_record = t.drop_duplicates("station_record_id")
    assert abs(fn(medium, per_record) - expected) <= tol


def test_match_rate_parameter_is_used():
    g = generate(400, 4000, seed=2, params=GeneratorParams(match_rate=0.2, min_per_form=0))
    assert g.truth["station_record_id"].nunique() == 80


# ---------------------------------------------------------------- name corruptions


def test_name_forms_do_what_they_say(joined):
    t2s = OpenCC("t2s")
    checked = set()
    for form, st, rp in joined[["name_form", "name_s", "name_r"]].itertuples(index=False):
        if form == "exact":
            assert st == rp
        elif form == "homophone":
            assert st != rp and len(st) == len(rp)
            # Each changed given-name character reads (by default) as the name read as a whole.
            said = lazy_pinyin(rp[1:])
            assert all(a == b or lazy_pinyin(a)[0] == r for a, b, r in zip(st[1:], rp[1:], said))
        elif form == "dialect":
            assert st != rp and len(st) == len(rp)
        elif form == "surname_misread":
            assert st[0] != rp[0] and st[1:] == rp[1:]
            assert rp[0] in "单曾解仇区朴查覃盖乐翟缪卜薄"
        elif form == "traditional":
            assert st != rp and t2s.convert(st) == rp
        elif form == "given_only":
            assert rp.endswith(st) and len(st) < len(rp)
        elif form == "surname_only":
            assert st.endswith("某") and rp.startswith(st.rstrip("某"))
        checked.add(form)
    assert checked >= {"exact", "homophone", "dialect", "traditional", "given_only", "surname_only"}


def test_common_full_names_repeat_but_not_too_much(medium):
    names = medium.reports["name"]
    counts = names.value_counts()
    assert counts.iloc[0] >= 10  # 王秀英, 张伟 ... repeat
    assert counts.iloc[0] / len(names) < 0.01
    assert names.str.len().between(2, 4).all()
    given = set(n[1:] for n in names)
    assert len(given) > 2000


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("headers,fmt,encoding", [
    ("en", "csv", "utf-8"), ("en", "csv", "utf-8-sig"), ("zh", "csv", "gb18030"),
    ("zh", "csv", "utf-8"), ("en", "xlsx", "utf-8"), ("zh", "xlsx", "utf-8"),
])
def test_written_files_reread(tmp_path, headers, fmt, encoding):
    g = generate(60, 600, seed=8)
    paths = write(g, tmp_path, headers=headers, fmt=fmt, encoding=encoding)
    for table, frame, zh in (("stations", g.stations, STATION_ZH), ("reports", g.reports, REPORT_ZH)):
        if fmt == "csv":
            back = pd.read_csv(paths[table], dtype=str, keep_default_na=False, encoding=encoding)
        else:
            back = pd.read_excel(paths[table], dtype=str).fillna("")
        expected_cols = [zh[c] for c in frame.columns] if headers == "zh" else list(frame.columns)
        assert list(back.columns) == expected_cols
        assert (back.to_numpy() == frame.to_numpy()).all()
    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(truth, g.truth)


@pytest.mark.parametrize("kwargs", [
    {"headers": "fr"}, {"fmt": "json"}, {"encoding": "latin-1"}, {"encoding": "gbk"},
])
def test_write_refuses_unknown_options(tmp_path, kwargs):
    with pytest.raises(ValueError):
        write(generate(5, 50, seed=1), tmp_path, **kwargs)


@pytest.mark.parametrize("args", [(-1, 10), (10, -1), (10, 10, 0, GeneratorParams(match_rate=1.5))])
def test_generate_refuses_bad_arguments(args):
    with pytest.raises(ValueError):
        generate(*args)


@pytest.mark.parametrize("n_st,n_rep", [(0, 0), (0, 100), (100, 0), (50, 10), (1, 1)])
def test_edge_sizes(n_st, n_rep):
    g = generate(n_st, n_rep, seed=1)
    assert len(g.stations) == n_st and len(g.reports) == n_rep
    assert g.truth["report_id"].isin(g.reports["report_id"]).all()
    assert g.truth["person_id"].nunique() <= min(n_st, n_rep)


# ---------------------------------------------------------------- the checked-in sample


def _sample(name: str) -> pd.DataFrame:
    with (files("xunqin.data") / "sample" / name).open("rb") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def test_sample_is_what_the_generator_makes():
    g = generate(**SAMPLE)
    pd.testing.assert_frame_equal(_sample("stations.csv"), g.stations)
    pd.testing.assert_frame_equal(_sample("reports.csv"), g.reports)
    truth = _sample("truth.csv")  # written before the truth had a name_group column
    pd.testing.assert_frame_equal(truth, g.truth[list(truth.columns)])


def test_sample_has_every_name_form_and_a_no_name_elder():
    truth, st, rp = _sample("truth.csv"), _sample("stations.csv"), _sample("reports.csv")
    counts = truth.drop_duplicates("station_record_id")["name_form"].value_counts()
    for form in NAME_FORMS_V1:
        assert counts.get(form, 0) >= 3, form
    j = truth.merge(st, left_on="station_record_id", right_on="record_id").merge(
        rp, on="report_id", suffixes=("_s", "_r"))
    j = j[(j["name_form"] == "placeholder") & (j["hometown_s"] != "")]
    fits = 0
    for _, r in j.iterrows():
        ages = [int(x) for x in re.findall(r"\d+", r["estimated_age"])]
        if not ages or ages[0] < 55:
            continue
        said = re.sub(r"^(老家|说是)|(省|人|的)$", "", r["hometown_s"])
        if said[:2] in r["hometown_r"]:
            fits += 1
    assert fits >= 1


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize("syl,must,must_not", [
    ("nan", "lan", "nan"), ("fang", "huang", "fang"), ("hui", "fei", "hui"), ("zhang", "zang", "zhang"),
    ("shan", "san", "shan"), ("lin", "ling", "lin"), ("ying", "yin", "ying"), ("ren", "reng", "ren"),
    ("rong", "long", "rong"), ("chen", "cen", "chen"), ("hong", "feng", "hong"), ("liu", "niu", "liu"),
])
def test_dialect_variants(syl, must, must_not):
    v = ref.dialect_variants(syl)
    assert must in v and must_not not in v


@pytest.mark.parametrize("syl", ["xiu", "a", "zzz", ""])
def test_dialect_variants_none(syl):
    assert all(x in ref.syllable_chars() for x in ref.dialect_variants(syl))
    if syl in ("zzz", ""):
        assert ref.dialect_variants(syl) == ()


@pytest.mark.parametrize("est,form,off,expected", [
    (60, "plain", 5, "60"), (60, "about", 5, "约60岁"), (60, "around", 5, "60岁左右"),
    (63, "plus", 5, "60多岁"), (63, "cn_lai", 5, "六十来岁"), (57, "cn_plus", 5, "五十多岁"),
    (60, "range", 5, "55-60岁"), (8, "plus", 3, "约8岁"), (8, "range", 3, "约8岁"),
    (15, "cn_lai", 2, "十来岁"), (101, "cn_plus", 2, "一百多岁"), (70, "unknown", 2, "不详"),
    (3, "range", 5, "约3岁"),
])
def test_age_text(est, form, off, expected):
    assert tx.age_text(est, form, off) == expected


@pytest.mark.parametrize("h,form,expected", [
    (165, 0, "165"), (165, 1, "165cm"), (165, 2, "165厘米"), (165, 3, "1.65米"), (168, 4, "约1.7米"),
    (92, 3, "0.92米"),
])
def test_height_text(h, form, expected):
    assert tx.height_text(h, form) == expected


@pytest.mark.parametrize("form,expected", [
    (0, "2023-05-01"), (1, "2023/5/1"), (2, "2023年5月1日"), (3, "20230501"), (4, "2023.05.01"),
])
def test_date_forms(form, expected):
    d = (date(2023, 5, 1) - date(1970, 1, 1)).days
    assert tx.format_dates(np.array([d]), np.array([form])) == [expected]


@pytest.mark.parametrize("name,expected", [
    ("周口市", "周口"), ("商水县", "商水"), ("礼县", "礼县"), ("延边朝鲜族自治州", "延边"),
    ("锡林郭勒盟", "锡林郭勒"), ("阿里地区", "阿里"), ("北京市", "北京"), ("", ""),
    ("本溪满族自治县", "本溪"),
])
def test_short_place(name, expected):
    assert ref.short_place(name) == expected


@pytest.mark.parametrize("region,birth,seq,expected", [
    (110105, date(1949, 12, 31), 2, "11010519491231002X"),
    (411623, date(1965, 3, 8), 123, None), (440524, date(1880, 1, 1), 1, None),
    (652325, date(2020, 2, 29), 998, None),
])
def test_id_numbers(region, birth, seq, expected):
    days = np.array([(birth - date(1970, 1, 1)).days])
    (s,) = id_numbers(np.array([region]), days, np.array([seq]))
    assert s[:17] == f"{region}{birth:%Y%m%d}{seq:03d}"
    assert s[17] == _check_char(s[:17])
    if expected:
        assert s == expected


@pytest.mark.parametrize("s,ok", [
    ("11010519491231002X", True), ("11010519491231002x", False), ("110105194912310021", False),
    ("", False), ("1101051949123100", False), ("ABCDEFGHIJKLMNOPQR", False), ("１１０１０５１９４９１２３１００２X", False),
    ("11010519491231002X" * 50, False),
])
def test_id_check_ok(s, ok):
    assert id_check_ok(s) is ok


def test_reference_files_have_source_headers():
    for name in ("gen_surnames.csv", "gen_given_names.csv", "gen_provinces.csv", "gen_places.csv",
                 "gen_work_cities.csv"):
        text = (files("xunqin.data") / name).read_text(encoding="utf-8")
        head = "".join(line for line in text.splitlines() if line.startswith("#"))
        assert text.startswith("#") and "Licence" in head and "Source" in head and "Date" in head


def test_surname_model():
    sn = ref.surnames()
    assert abs(sn.p.sum() - 1) < 1e-9 and len(sn.text) >= 150
    top = [sn.text[i] for i in np.argsort(-sn.p)[:5]]
    assert top[:3] == ["王", "李", "张"] and set(top) == {"王", "李", "张", "刘", "陈"}
    misread = {sn.text[i] for i in sn.misread}
    assert {"单", "曾", "解", "仇", "区", "朴", "查", "覃", "盖", "乐", "翟", "缪"} <= misread
    assert "欧阳" in set(sn.text)


# ---------------------------------------------------------------- the independent model

from xunqin.data import generate_confusions as cf  # noqa: E402
from xunqin.data.generate import NAME_GROUP, NAME_GROUPS, estimated_ages, station_name_independent  # noqa: E402


@pytest.fixture(scope="module")
def independent():
    return generate(N_ST, N_REP, seed=12)


@pytest.fixture(scope="module")
def joined_independent(independent):
    t = independent.truth.merge(independent.stations, left_on="station_record_id", right_on="record_id")
    return t.merge(independent.reports, on="report_id", suffixes=("_s", "_r"))


def test_independent_model_reads_only_its_own_tables():
    """No matcher table (normalizers, name_variants, dialects, surname_readings, division_renames)
    and no pypinyin: run in a fresh interpreter, recording every file opened."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' and a and isinstance(a[0], str) else None)\n"
        "from xunqin.data.generate import generate\n"
        "generate(200, 2000, seed=5)\n"
        "print(sorted({o.rsplit('/', 1)[-1] for o in opened if o.endswith('.csv')}))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pypinyin', 'xunqin.normalizers', 'xunqin.matching'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    read = set(eval(out[0]))
    assert read and all(name.startswith("gen_") or name == "divisions.csv" for name in read), read
    assert {"gen_accent_rules.csv", "gen_char_readings.csv", "gen_place_renames.csv"} <= read
    assert eval(out[1]) == []


def test_every_true_record_has_a_name_group(independent):
    t = independent.truth
    assert t["name_group"].isin(NAME_GROUPS).all()
    assert (t["name_group"] == t["name_form"].map(NAME_GROUP)).all()
    per_record = t.drop_duplicates("station_record_id")
    assert set(per_record["name_group"]) == set(NAME_GROUPS)  # every group occurs at this size


INDEPENDENT_RATES = [
    # (name form(s), expected share of true station records, tolerance)
    (("placeholder",), 0.185, 0.03), (("nickname",), 0.09, 0.025), (("given_only",), 0.04, 0.015),
    (("surname_only",), 0.04, 0.015), (("other_surname",), 0.03, 0.015), (("dropped_char",), 0.02, 0.012),
    (("exact", "homophone", "traditional", "dialect", "southern_surname"), 0.595, 0.04),
]


@pytest.mark.parametrize("forms,expected,tol", INDEPENDENT_RATES, ids=[r[0][0] for r in INDEPENDENT_RATES])
def test_independent_name_form_rates(independent, forms, expected, tol):
    per_record = independent.truth.drop_duplicates("station_record_id")
    assert abs(per_record["name_form"].isin(forms).mean() - expected) <= tol


def _readings_of(c: str) -> set[str]:
    return set(cf.sounds().readings.get(c, ()))


def test_independent_name_forms_do_what_they_say(joined_independent):
    j = joined_independent
    swaps = cf.surname_swaps()
    seen = set()
    for form, st, rp in j[["name_form", "name_s", "name_r"]].itertuples(index=False):
        if form in ("homophone", "dialect"):
            assert st != rp and len(st) == len(rp)
        if form == "homophone":  # each changed character shares a reading with what was said
            sur_ok = st[0] == rp[0] or len(_readings_of(st[0])) > 0
            assert sur_ok and all(a == b or _readings_of(a) & _readings_of(b) or b in "长朝乐重"
                                  for a, b in zip(st[1:], rp[1:]))
        elif form == "southern_surname":
            assert swaps[rp[0]][0] == st[0] and st[1:] == rp[1:]
        elif form == "other_surname":
            assert st[0] != rp[0] or st[:2] != rp[:2]
        elif form == "dropped_char":
            assert len(st) == len(rp) - 1 and st[0] == rp[0] and st[1] in rp[1:]
        elif form == "surname_only":
            assert rp[0] in st and (st.endswith(("某", "氏")) or st[0] in "老小")
        seen.add(form)
    assert {"homophone", "dialect", "southern_surname", "other_surname", "dropped_char", "surname_only",
            "nickname", "given_only"} <= seen


def _rule(family: str, source: str):
    return next(r for r in cf.accent_rules() if r.family == family and source in r.mapping)


@pytest.mark.parametrize("family,source,syl,expected", [
    ("n_l", "n", "niu", "liu"), ("n_l", "l", "lan", "nan"), ("f_h", "hu", "huang", "fang"),
    ("f_h", "fei", "fei", "hui"), ("zh_z", "zh", "zhang", "zang"), ("zh_z", "s", "sun", "shun"),
    ("en_eng", "eng", "cheng", "chen"), ("en_eng", "en", "chen", "cheng"), ("en_eng", "eng", "ying", None),
    ("in_ing", "ing", "ling", "lin"), ("in_ing", "in", "lin", "ling"), ("in_ing", "in", "ling", None),
    ("an_ang", "ang", "zhang", "zhan"), ("ong_eng", "dong", "dong", "deng"), ("ong_eng", "feng", "feng", "hong"),
    ("j_z", "xi", "xiu", "sou"), ("j_z", "ji", "jun", "zun"), ("j_z", "zi", "zi", "ji"),
    ("b_p", "b", "bao", "pao"), ("d_t", "d", "de", "te"), ("g_k", "g", "gang", "kang"),
    ("v_i", "yu", "yu", "yi"), ("r_y", "ren", "ren", "yin"), ("r_l", "r", "rong", "long"),
    ("n_l", "n", "wang", None), ("b_p", "b", "ba", "pa"),
])
def test_accent_shift(family, source, syl, expected):
    assert cf.shift(_rule(family, source), syl) == expected


@pytest.mark.parametrize("form,surname,given,province,check", [
    ("southern_surname", "吴", "晓红", "浙江", lambda s: s == "胡晓红"),
    ("southern_surname", "黄", "国强", "广东", lambda s: s == "王国强"),
    ("dropped_char", "张", "伟明", "河南", lambda s: s in ("张伟", "张明")),
    ("given_only", "李", "秀英", "河南", lambda s: s == "秀英"),
    ("traditional", "张", "国华", "河南", lambda s: s == "張國華"),
    ("surname_only", "王", "秀英", "河南", lambda s: s in ("王某", "王某某", "老王", "王氏")),
    ("other_surname", "王", "秀英", "河南", lambda s: s.endswith("秀英") and s[:-2] != "王"),
    ("nickname", "王", "秀英", "河南", lambda s: 1 <= len(s) <= 3 and s != "王秀英"),
    ("dialect", "刘", "红兵", "四川", lambda s: len(s) == 3 and s != "刘红兵"),
    ("homophone", "陈", "秀英", "河南", lambda s: len(s) == 3 and s != "陈秀英"),
])
def test_station_name_independent(form, surname, given, province, check):
    rng = np.random.default_rng(3)
    for _ in range(20):
        text, produced = station_name_independent(rng, form, surname, ref.surnames().reading[
            list(ref.surnames().text).index(surname)], given, False, 65.0, province, "north", "小英", 0.3)
        assert produced == form and check(text), (form, text)


def test_nicknames_follow_the_region():
    rng = np.random.default_rng(1)
    given = ["志强"] * 4000
    south = cf.nicknames(rng, given, np.ones(4000, bool), np.array(["south"] * 4000, dtype=object))
    north = cf.nicknames(rng, given, np.ones(4000, bool), np.array(["north"] * 4000, dtype=object))
    share = lambda names, form: np.mean([n == form for n in names])  # noqa: E731
    assert share(south, "阿强") > 0.25 > 0.05 > share(north, "阿强")
    assert share(north, "小强") > share(south, "小强")
    assert share(south, "强仔") > 0.1 and share(north, "强仔") == 0


@pytest.mark.parametrize("code,name,year,born,habit,expected", [
    (420600, "襄阳市", 2005, 1950, False, "襄樊市"),  # the name then
    (420600, "襄阳市", 2020, 1950, False, "襄阳市"),
    (420600, "襄阳市", 2020, 1950, True, "襄樊市"),  # an old man keeps the old name
    (420600, "襄阳市", 2020, 2012, True, "襄阳市"),  # born after the rename
    (510124, "郫县", 2020, 1960, False, "郫都区"),  # newer than the gazetteer
    (510124, "郫县", 2012, 1960, False, "郫县"),
    (510124, "郫县", 2020, 1960, True, "郫县"),
    (411623, "商水县", 2020, 1960, True, "商水县"),  # never renamed
])
def test_division_name(code, name, year, born, habit, expected):
    assert cf.division_name(code, name, year, born, habit) == expected


def test_place_renames_refer_to_gazetteer_divisions():
    geo = ref.geo()
    known = set(geo.code.tolist()) | {int(k) * 100 for k in geo.pref_key.tolist()}
    renames = ref.read_table("gen_place_renames.csv")
    assert len(renames) >= 150 and renames["code"].astype(int).isin(known).all()
    assert set(renames["kind"]) == {"older", "newer"}
    assert all(len(keys) for _, _, keys in cf.place_names().colloquial)


def test_independent_hometowns_use_other_names_and_unlisted_places(independent):
    said = independent.stations["hometown"]
    written = independent.reports["hometown"]
    olds = set(ref.read_table("gen_place_renames.csv")["other_name"])
    assert written.map(lambda h: any(o in h for o in olds)).sum() > 20
    assert said.str.contains("那边|农村|乡下|那旮旯|苏北|皖北|豫东|胶东|潮汕|闽南|湘西").sum() > 20
    assert said.str.fullmatch(r"[^省市县区]+(镇|乡|街道)([^省市县区]*村)?").sum() > 20  # town or village only


def test_age_errors_grow_with_age_and_double_with_the_scale(independent):
    lat = independent.station_latent
    dev = lat["age_deviation"].to_numpy()
    young, old = dev[(lat["age"] >= 18) & (lat["age"] < 35)], dev[lat["age"] >= 65]
    assert old.std() > young.std() * 1.3 and old.mean() > 2  # older and living rough: older-looking
    age = lat["age"].to_numpy()
    once = estimated_ages(age, dev, np.zeros(len(age), bool), 1.0)
    twice = estimated_ages(age, dev, np.zeros(len(age), bool), 2.0)
    assert np.abs(twice - age).mean() > 1.8 * np.abs(once - age).mean()


def test_latent_rows_match_the_written_records(independent):
    lat, st = independent.station_latent, independent.stations
    assert (lat["record_id"] == st["record_id"]).all()
    rl, rp = independent.report_latent, independent.reports
    assert (rl["report_id"] == rp["report_id"]).all()
    full = lat["name_form"] == "exact"
    assert (st.loc[full, "name"] == (lat.loc[full, "surname"] + lat.loc[full, "given"])).all()
