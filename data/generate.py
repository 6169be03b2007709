"""Synthetic rescue-station records and missing-person reports with a truth file.

What is modelled, with every rate, is in ``data/GENERATOR.md``. Usage::

    gen = generate(10_000, 500_000, seed=1)
    write(gen, "out/", headers="zh", fmt="csv", encoding="gb18030")

CLI: ``python -m xunqin.data.generate --stations N --reports N --seed S --out DIR``.
All personal data here are synthetic; phone numbers use the reserved-looking 1700000xxxx range.

Two models (``GeneratorParams.model``): ``independent`` (the default) takes its confusions, nicknames,
place names and age errors from its own reference files (``generate_confusions``), never from the
matcher's tables or pypinyin's default readings; ``sample_v1`` is the first model, kept only because
the checked-in ``data/sample`` was made with it and tests depend on those files.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from xunqin.data import generate_confusions as cf
from xunqin.data import generate_ref as ref
from xunqin.data import generate_text as tx

STATION_COLUMNS = ("record_id", "station", "name", "gender", "estimated_age", "found_date",
                   "found_place", "hometown", "dialect", "height_cm", "features", "id_number", "notes")
REPORT_COLUMNS = ("report_id", "source", "name", "aliases", "gender", "birth_date", "age_at_missing",
                  "id_number", "missing_date", "missing_place", "hometown", "height_cm", "features",
                  "contact_phone")
TRUTH_COLUMNS = ("station_record_id", "report_id", "person_id", "name_form", "name_category", "name_group")
STATION_ZH = dict(zip(STATION_COLUMNS, ("编号", "救助站", "姓名", "性别", "估计年龄", "救助日期", "发现地点",
                                        "自述籍贯", "口音", "身高", "体貌特征", "身份证号", "备注")))
REPORT_ZH = dict(zip(REPORT_COLUMNS, ("编号", "来源", "姓名", "曾用名/小名", "性别", "出生日期", "走失时年龄",
                                      "身份证号", "走失日期", "走失地点", "户籍地址", "身高", "体貌特征", "联系电话")))

NAME_FORMS = ("exact", "homophone", "dialect", "surname_misread", "traditional", "given_only",
              "surname_only", "nickname", "placeholder", "southern_surname", "other_surname", "dropped_char")
NAME_FORMS_V1 = NAME_FORMS[:9]  # what the sample_v1 model writes
NAME_CATEGORY = {"exact": "full_or_sound", "homophone": "full_or_sound", "dialect": "full_or_sound",
                 "surname_misread": "full_or_sound", "traditional": "full_or_sound",
                 "southern_surname": "full_or_sound", "other_surname": "partial_or_nickname",
                 "dropped_char": "partial_or_nickname",
                 "given_only": "partial_or_nickname", "surname_only": "partial_or_nickname",
                 "nickname": "partial_or_nickname", "placeholder": "no_name"}
# The groups of issue 11's table (how the station wrote the name), measured one by one.
NAME_GROUP = {"exact": "written_right", "homophone": "written_right", "traditional": "written_right",
              "surname_misread": "written_right", "dialect": "dialect", "southern_surname": "southern_accent",
              "nickname": "nickname", "given_only": "given_only", "surname_only": "surname_only",
              "other_surname": "other_surname", "dropped_char": "dropped_char", "placeholder": "no_name"}
NAME_GROUPS = ("written_right", "dialect", "southern_accent", "nickname", "given_only", "surname_only",
               "other_surname", "dropped_char", "no_name")
SOURCES = ("公安", "家属", "寻亲平台")
HOMETOWN_CATS = ("missing", "province", "fragment", "fuller", "wrong")
HOMETOWN_CATS_INDEPENDENT = ("missing", "province", "colloquial", "fragment", "town_only", "fuller", "wrong")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class GeneratorParams:
    """Every rate of the model; GENERATOR.md explains each."""

    match_rate: float = 0.7  # share of station records that have a true report
    twice_reported_rate: float = 0.05  # share of reported persons with a second report
    two_station_rate: float = 0.03  # share of station persons with a second admission
    male_share: float = 0.62
    age_group_p: tuple[float, float, float] = (0.08, 0.45, 0.47)  # child 2-17, adult 18-59, elder 60-93
    as_of: date = date(2026, 11, 29)  # "today": no date after it
    missing_start: date = date(1990, 1, 1)
    missing_recency_years: float = 7.0  # exponential scale of (as_of - missing_date)
    missing_place_p: tuple[float, ...] = (0.70, 0.08, 0.07, 0.15)  # home county, home pref, home prov, work city
    found_place_p: tuple[float, ...] = (0.60, 0.25, 0.15)  # same prefecture as missing place, province, far
    lag_p: tuple[float, ...] = (0.35, 0.30, 0.25, 0.10)  # 1-60 days, 2-12 months, 1-10 years, 10-30 years
    mark_count_p: tuple[float, ...] = (0.35, 0.35, 0.20, 0.10)  # 0, 1, 2, 3 marks
    dementia_rate_elderly: float = 0.45
    intellectual_rate_adult: float = 0.22
    mental_rate_adult: float = 0.28
    intellectual_rate_child: float = 0.25
    deafmute_rate: float = 0.05
    name_form_p: tuple[tuple[str, float], ...] = (
        ("exact", 0.25), ("homophone", 0.10), ("dialect", 0.10), ("traditional", 0.02),
        ("given_only", 0.08), ("surname_only", 0.05), ("nickname", 0.10), ("placeholder", 0.30))
    surname_misread_rate: float = 0.5  # of exact/homophone/dialect draws on a misread-prone surname
    min_per_form: int = 3  # top up each name_form among true records (0 = pure rates)
    gender_unknown_rate: float = 0.03
    age_unknown_rate: float = 0.10
    age_sd: float = 3.0  # staff's estimate error for adults up to 30 ...
    age_sd_growth: float = 0.05  # ... growing by this per year above 30
    elderly_age_bias: float = 2.0  # homeless elderly look older
    hometown_p: tuple[float, ...] = (0.35, 0.20, 0.22, 0.18, 0.05)  # see HOMETOWN_CATS
    dialect_empty_rate: float = 0.40
    station_height_rate: float = 0.5
    height_noise_cm: int = 3
    station_mark_rate: float = 0.6  # each true mark noted by the station
    station_side_error_rate: float = 0.05  # left/right swapped
    extra_mark_rate: float = 0.1  # a mark the family did not mention
    station_id_rate: float = 0.03
    station_id_fragment_rate: float = 0.03
    alias_rate: float = 0.30
    report_id_rate: float = 0.50
    birth_precision_p: tuple[float, ...] = (0.60, 0.15, 0.10, 0.15)  # full, year, year-month, none
    second_birth_precision_p: tuple[float, ...] = (0.30, 0.45, 0.05, 0.20)
    report_height_rate: float = 0.6
    report_mark_rate: float = 0.85  # each true mark mentioned by the family
    phone_rate: float = 0.9
    source_p: tuple[float, ...] = (0.40, 0.35, 0.25)
    # ---- the independent model (GENERATOR.md, "Independent model", gives the source of each)
    model: str = "independent"  # or "sample_v1" (the model of the checked-in sample)
    name_form_p_independent: tuple[tuple[str, float], ...] = (
        ("exact", 0.41), ("homophone", 0.12), ("traditional", 0.015), ("dialect", 0.05),
        ("nickname", 0.09), ("given_only", 0.04), ("surname_only", 0.04), ("other_surname", 0.03),
        ("dropped_char", 0.02), ("placeholder", 0.185))
    southern_surname_rate: float = 0.2  # of exact/homophone draws on 吴胡黄王 from an accent province
    own_nickname_share: float = 0.35  # a station nickname is the one the family knows (else formed anew)
    age_sd_child: float = 1.5
    age_sd_adult: float = 3.5  # at 30 ...
    age_sd_per_year: float = 0.07  # ... growing by this per year above 30 (7.0 at 80)
    rough_living_bias: float = 3.0  # years added from 50: people living rough look older
    age_heaping: float = 0.4  # estimates rounded to a multiple of 5
    age_error_scale: float = 1.0  # multiplies every estimate's error (the perturbation suite: 2)
    hometown_p_independent: tuple[float, ...] = (0.35, 0.17, 0.04, 0.20, 0.04, 0.15, 0.05)
    report_old_name_habit: float = 0.25  # a family writes the name of before a rename
    station_old_name_habit: float = 0.5  # a person born before a rename says the old name


@dataclass(frozen=True)
class Generated:
    stations: pd.DataFrame
    reports: pd.DataFrame
    truth: pd.DataFrame
    # what the written records came from, row for row (not written out): what the perturbation
    # suite needs to corrupt one field family of the same records (independent model only)
    station_latent: pd.DataFrame | None = None
    report_latent: pd.DataFrame | None = None


# ---------------------------------------------------------------- helpers


def _days(d: date) -> int:
    return (d - EPOCH).days


def _pick(rng: np.random.Generator, pools: tuple[str, ...] | list[str], n: int) -> list[str]:
    idx = rng.integers(0, len(pools), n)
    return [pools[i] for i in idx.tolist()]


def _in_group(rng: np.random.Generator, groups: np.ndarray, table) -> np.ndarray:
    """For each group key, a uniform random member of ``table[key]`` (arrays of indices)."""
    u = rng.random(len(groups))
    return np.array([table[k][int(x * len(table[k]))] for k, x in zip(groups.tolist(), u.tolist())],
                    dtype=np.int64)


def id_numbers(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> list[str]:
    """Valid 18-digit resident IDs (GB 11643: ISO 7064 MOD 11-2 check digit)."""
    y, m, d = tx.ymd(birth_days)
    body = np.stack([region, y * 10000 + m * 100 + d, seq], axis=1).astype(np.int64)
    digits = np.concatenate([
        (body[:, [0]] // 10 ** np.arange(5, -1, -1)) % 10,
        (body[:, [1]] // 10 ** np.arange(7, -1, -1)) % 10,
        (body[:, [2]] // 10 ** np.arange(2, -1, -1)) % 10], axis=1)
    chk = (digits @ ID_WEIGHTS) % 11
    return [f"{a:06d}{b:08d}{c:03d}{ID_CHECK[k]}" for a, b, c, k in
            zip(body[:, 0].tolist(), body[:, 1].tolist(), body[:, 2].tolist(), chk.tolist())]


def id_check_ok(s: str) -> bool:
    """True if an 18-character ID has the right check character."""
    if len(s) != 18 or not s[:17].isascii() or not s[:17].isdigit():
        return False
    return ID_CHECK[sum(int(c) * w for c, w in zip(s[:17], ID_WEIGHTS.tolist())) % 11] == s[17]


# ---------------------------------------------------------------- persons


@dataclass(frozen=True)
class _Persons:
    male: np.ndarray
    birth: np.ndarray  # days
    missing: np.ndarray  # days
    county: np.ndarray  # hometown county index
    missing_county: np.ndarray
    surname: np.ndarray  # index into ref.surnames(); mutable copy (min_per_form may change it)
    given: list[str]
    former_given: list[str]
    nickname: list[str]
    town: list[str]
    village: list[str]
    extra: list[str]
    height_z: np.ndarray
    marks: np.ndarray
    condition: np.ndarray
    id_number: list[str]


def _given_names(rng: np.random.Generator, era: np.ndarray, male: np.ndarray) -> list[str]:
    pools = ref.given_pools()
    single_share = (0.10, 0.18, 0.30, 0.12)  # one-character names peaked in the 1980s-90s
    out = np.empty(len(era), dtype=object)
    for e, era_name in enumerate(ref.ERAS):
        for g, sex in ((True, "M"), (False, "F")):
            idx = np.flatnonzero((era == e) & (male == g))
            if not len(idx):
                continue
            pool = pools[(era_name, sex)]
            n = len(idx)
            kind = rng.choice(3, n, p=[0.55, single_share[e], 0.45 - single_share[e]])
            whole = pool.name[0][rng.choice(len(pool.name[0]), n, p=pool.name[1])]
            single = pool.single[0][rng.choice(len(pool.single[0]), n, p=pool.single[1])]
            first = pool.first[0][rng.choice(len(pool.first[0]), n, p=pool.first[1])]
            second = pool.second[0][rng.choice(len(pool.second[0]), n, p=pool.second[1])]
            out[idx] = np.where(kind == 0, whole, np.where(kind == 1, single, first + second))
    return out.tolist()


_RANKS = ("大", "二", "三", "四")
_RANK_TAILS_M = ("娃", "毛", "狗", "蛋", "小")
_RANK_TAILS_F = ("妞", "丫", "妹", "毛")
_GENERIC_M = ("狗蛋", "铁蛋", "石头", "柱子", "栓子", "小胖", "黑子", "虎子", "毛蛋")
_GENERIC_F = ("丫头", "妞妞", "毛毛", "翠翠", "胖妞", "小丫", "燕子")


def _nicknames(rng: np.random.Generator, given: list[str], male: np.ndarray) -> list[str]:
    n = len(given)
    kind = rng.choice(6, n, p=[0.30, 0.15, 0.15, 0.10, 0.15, 0.15])
    r1, r2, r3 = rng.integers(0, 4, n).tolist(), rng.integers(0, 5, n).tolist(), rng.integers(0, 9, n).tolist()
    out = []
    for g, k, m, a, b, c in zip(given, kind.tolist(), male.tolist(), r1, r2, r3):
        last = g[-1]
        if k == 0:
            out.append("小" + last)
        elif k == 1:
            out.append("阿" + last)
        elif k == 2:
            out.append(last * 2)
        elif k == 3:
            out.append(last + "娃")
        elif k == 4:
            tails = _RANK_TAILS_M if m else _RANK_TAILS_F
            t = tails[b % len(tails)]
            out.append("小" + _RANKS[a] if t == "小" else _RANKS[a] + t)
        else:
            gen = _GENERIC_M if m else _GENERIC_F
            out.append(gen[c % len(gen)])
    return out


def _addresses(rng: np.random.Generator, county: np.ndarray) -> tuple[list[str], list[str], list[str]]:
    """Town/street, village/community and house detail for people living in ``county``."""
    geo, parts = ref.geo(), ref.place_parts()
    n = len(county)
    urban = geo.urban[county] & (rng.random(n) < 0.6)
    region = np.array(geo.prov_region)[geo.prov[county]]
    tails = np.empty(n, dtype=object)
    for reg in np.unique(region):
        idx = np.flatnonzero(region == reg)
        pool = parts[(str(reg), "village_tail")]
        tails[idx] = np.array(pool, dtype=object)[rng.integers(0, len(pool), len(idx))]
    vh = _pick(rng, parts[("all", "village_head")], n)
    th = _pick(rng, parts[("all", "town_head")], n)
    tt = _pick(rng, parts[("all", "town_tail")], n)
    sh = _pick(rng, parts[("all", "street_head")], n)
    st = _pick(rng, parts[("all", "street_tail")], n)
    ct = _pick(rng, parts[("all", "community_tail")], n)
    num = rng.integers(1, 200, n).tolist()
    grp = rng.integers(1, 13, n).tolist()
    has_grp = (rng.random(n) < 0.5).tolist()
    town, village, extra = [], [], []
    for i, u in enumerate(urban.tolist()):
        if u:
            town.append(th[i] + "街道")
            village.append(vh[i] + ct[i] if ct[i] != "社区" else th[i][:1] + vh[i] + "社区")
            extra.append(f"{sh[i]}{st[i]}{num[i]}号")
        else:
            town.append(th[i] + tt[i])
            village.append(f"{vh[i]}{tails[i]}村")
            extra.append(f"{grp[i]}组" if has_grp[i] else "")
    return town, village, extra


def _persons(rng: np.random.Generator, n: int, p: GeneratorParams) -> _Persons:
    geo, sn = ref.geo(), ref.surnames()
    male = rng.random(n) < p.male_share
    group = rng.choice(3, n, p=np.asarray(p.age_group_p))
    age = np.select(
        [group == 0, group == 1],
        [rng.uniform(2, 18, n), rng.triangular(18, 32, 60, n)],
        rng.triangular(60, 72, 94, n))
    as_of, start = _days(p.as_of), _days(p.missing_start)
    span = as_of - start
    before = rng.exponential(p.missing_recency_years * 365.25, n)
    late = before > span
    before[late] = rng.uniform(1, span, late.sum())
    missing = as_of - np.maximum(1, before.astype(np.int64))
    # Nobody born before 1920 (keeps birth dates plausible for an ID number).
    age = np.minimum(age, (missing - _days(date(1920, 1, 1))) / 365.25 - 0.01)
    birth = missing - (age * 365.25).astype(np.int64)
    year = tx.ymd(birth)[0]
    era = np.searchsorted(ref.ERA_BOUNDS, year, side="right")
    county = rng.choice(len(geo.code), n, p=geo.weight)

    u = rng.random(n)
    cond = np.zeros(n, dtype=np.int8)
    cond[(group == 2) & (u < p.dementia_rate_elderly)] = 1
    cond[(group == 1) & (u < p.intellectual_rate_adult)] = 2
    cond[(group == 1) & (u >= p.intellectual_rate_adult)
         & (u < p.intellectual_rate_adult + p.mental_rate_adult)] = 3
    cond[(group == 0) & (u < p.intellectual_rate_child)] = 2
    cond[(cond == 0) & (rng.random(n) < p.deafmute_rate)] = 4

    # Where they went missing: home county, elsewhere at home, or the city where they worked.
    cat = rng.choice(4, n, p=np.asarray(p.missing_place_p))
    cat[group == 0] = 0  # children go missing near home
    mc = county.copy()
    sel = np.flatnonzero(cat == 1)
    mc[sel] = _in_group(rng, geo.pref_key[county[sel]], geo.by_pref)
    sel = np.flatnonzero(cat == 2)
    mc[sel] = _in_group(rng, geo.prov[county[sel]], geo.by_prov)
    sel = np.flatnonzero(cat == 3)
    wk = geo.work_cities[rng.choice(len(geo.work_cities), len(sel), p=geo.work_p)]
    mc[sel] = _in_group(rng, wk, geo.by_pref)

    surname = rng.choice(len(sn.text), n, p=sn.p)
    given = _given_names(rng, era, male)
    former = _given_names(rng, era, male)
    town, village, extra = _addresses(rng, county)
    seq = rng.integers(0, 500, n) * 2 + male.astype(int)  # odd = male
    persons = _Persons(
        male=male, birth=birth, missing=missing, county=county, missing_county=mc, surname=surname,
        given=given, former_given=former, nickname=_nicknames(rng, given, male), town=town,
        village=village, extra=extra, height_z=rng.standard_normal(n),
        marks=tx.draw_marks(rng, n, p.mark_count_p), condition=cond,
        id_number=id_numbers(geo.code[county], birth, seq))
    if p.model == "independent":  # the person's 小名, formed as in their home region
        region = np.array(geo.prov_region, dtype=object)[geo.prov[county]]
        persons = dataclasses.replace(persons, nickname=cf.nicknames(rng, given, male, region))
    return persons


# ---------------------------------------------------------------- names at the station


def _sound_sub(rng: np.random.Generator, c: str, syl: str) -> str | None:
    chars, prob = ref.syllable_chars().get(syl, ((), None))
    cands = [i for i, x in enumerate(chars) if x != c]
    if not cands:
        return None
    w = prob[cands] / prob[cands].sum()
    return chars[cands[int(rng.choice(len(cands), p=w))]]


def _readings(sur: str, sur_reading: str, given: str) -> list[str]:
    """Pinyin syllable per character, using the surname reading for the surname."""
    if len(sur) == 1:
        sur_syl = [sur_reading]
    else:  # compound surnames: per-character default readings (they are read right)
        sur_syl = [ref.char_reading(c) for c in sur]
    return sur_syl + list(ref.phrase_reading(given))


def _homophone(rng: np.random.Generator, chars: list[str], syls: list[str]) -> str | None:
    order = rng.permutation(len(chars)).tolist()
    out, changed = list(chars), False
    for i in order:
        if changed and rng.random() < 0.5:
            continue
        new = _sound_sub(rng, chars[i], syls[i])
        if new:
            out[i], changed = new, True
    return "".join(out) if changed else None


def _dialect(rng: np.random.Generator, chars: list[str], syls: list[str]) -> str | None:
    opts = [(i, v) for i, s in enumerate(syls) for v in ref.dialect_variants(s)]
    if not opts:
        return None
    out = list(chars)
    n_sub = 2 if rng.random() < 0.25 and len({i for i, _ in opts}) > 1 else 1
    done: set[int] = set()
    for j in rng.permutation(len(opts)).tolist():
        i, v = opts[j]
        if i in done:
            continue
        new = _sound_sub(rng, chars[i], v)
        if new:
            out[i] = new
            done.add(i)
        if len(done) >= n_sub:
            break
    return "".join(out) if done else None


_NEW_SURNAMES = ("党", "国", "民", "政", "新", "安", "福", "华")
_NEW_GIVEN = ("华", "民", "安", "康", "平", "生", "明", "爱民", "新生", "国庆", "建国", "福", "和", "助")
_PLACEHOLDERS = (("无名氏", 0.15), ("未知", 0.08), ("待查", 0.05), ("空", 0.04), ("", 0.18),
                 ("<code>", 0.20), ("<new>", 0.30))


def _placeholder(rng: np.random.Generator, station: str, found_year: int, male: bool) -> str:
    names, w = zip(*_PLACEHOLDERS)
    k = names[int(rng.choice(len(names), p=np.array(w) / sum(w)))]
    if k == "<code>":
        seq = int(rng.integers(1, 400))
        abbr = station[0] + "救"
        return (f"{abbr}{found_year % 100:02d}-{seq:03d}" if rng.random() < 0.7
                else f"无名{'男' if male else '女'}{found_year}{seq:03d}")
    if k == "<new>":
        if rng.random() < 0.5:  # the "党华" style names stations give long-stay residents
            return _NEW_SURNAMES[int(rng.integers(len(_NEW_SURNAMES)))] + _NEW_GIVEN[int(rng.integers(len(_NEW_GIVEN)))]
        sn = ref.surnames()  # or an ordinary name that belongs to nobody in particular
        pool = ref.given_pools()[("e2", "M" if male else "F")].name[0]
        return sn.text[int(rng.choice(len(sn.text), p=sn.p))] + pool[int(rng.integers(len(pool)))]
    return k


def _nickname_at_station(rng: np.random.Generator, sur: str, given: str, nick: str, male: bool,
                         age: float) -> str:
    last = given[-1]
    forms = ["own", "xiao", "a", "lao", "wa", "rep"]
    w = np.array([0.4, 0.15, 0.1, 0.15 if (male and age >= 30) else 0.0, 0.1, 0.1])
    f = forms[int(rng.choice(len(forms), p=w / w.sum()))]
    return {"own": nick, "xiao": "小" + last, "a": "阿" + last, "lao": "老" + sur, "wa": last + "娃",
            "rep": last * 2}[f]


def _station_name(rng: np.random.Generator, form: str, sur_i: int, given: str, nick: str, male: bool,
                  age: float, station: str, found_year: int) -> tuple[str, str]:
    """Write the name as staff would under ``form``; returns (text, form actually produced)."""
    sn = ref.surnames()
    sur = sn.text[sur_i]
    full = sur + given
    if form == "surname_misread":
        if len(sur) == 1 and sur_i in set(sn.misread.tolist()):
            # Either the right sound in another character (单 shan -> 山, which pypinyin's
            # default reading of 单 (dan) no longer matches) or the misread sound (单 -> 丹).
            syl = sn.reading[sur_i] if rng.random() < 0.5 else sn.default_reading[sur_i]
            new = _sound_sub(rng, sur, syl)
            if new:
                return new + given, "surname_misread"
        form = "homophone"
    if form in ("homophone", "dialect"):
        chars = list(full)
        syls = _readings(sur, sn.reading[sur_i], given)
        out = _dialect(rng, chars, syls) if form == "dialect" else None
        if out:
            return out, "dialect"
        out = _homophone(rng, chars, syls)
        return (out, "homophone") if out else (full, "exact")
    if form == "traditional":
        t = ref.to_traditional(full)
        return (t, "traditional") if t != full else (full, "exact")
    if form == "given_only":
        return given, "given_only"
    if form == "surname_only":
        return sur + ("某" if rng.random() < 0.8 else "某某"), "surname_only"
    if form == "nickname":
        return _nickname_at_station(rng, sur, given, nick, male, age), "nickname"
    if form == "placeholder":
        return _placeholder(rng, station, found_year, male), "placeholder"
    return full, "exact"


def station_name_independent(rng: np.random.Generator, form: str, surname: str, surname_reading: str,
                             given: str, male: bool, age: float, province: str, region: str,
                             own_nickname: str, own_share: float) -> tuple[str, str]:
    """The name as staff write it under ``form`` in the independent model; (text, form produced).
    No placeholder here (it needs the station)."""
    full = surname + given
    if form == "southern_surname":
        swap = cf.surname_swaps().get(surname)
        if swap:
            return swap[0] + given, "southern_surname"
        form = "exact"
    if form in ("homophone", "dialect"):
        chars = list(full)
        syls = cf.heard(rng, surname, surname_reading, given)
        out = cf.accent(rng, chars, syls, province) if form == "dialect" else None
        if out:
            return out, "dialect"
        out = cf.homophone(rng, chars, syls)
        return (out, "homophone") if out else (full, "exact")
    if form == "traditional":
        t = ref.to_traditional(full)
        return (t, "traditional") if t != full else (full, "exact")
    if form == "given_only":
        return given, "given_only"
    if form == "surname_only":
        return cf.surname_alone(rng, surname, male, age), "surname_only"
    if form == "nickname":
        if rng.random() < own_share:
            return own_nickname, "nickname"
        return cf.nicknames(rng, [given], np.array([male]), np.array([region], dtype=object))[0], "nickname"
    if form == "other_surname":
        sn = ref.surnames()
        for _ in range(10):
            other = sn.text[int(rng.choice(len(sn.text), p=sn.p))]
            if other != surname:
                return other + given, "other_surname"
        return full, "exact"
    if form == "dropped_char":
        out = cf.drop_character(rng, surname, given)
        return (out, "dropped_char") if out else (full, "exact")
    return full, "exact"


def _station_name_independent(rng: np.random.Generator, form: str, per: _Persons, q: int, age: float,
                              station: str, found_year: int, p: GeneratorParams) -> tuple[str, str]:
    if form == "placeholder":
        return _placeholder(rng, station, found_year, bool(per.male[q])), "placeholder"
    geo, sn = ref.geo(), ref.surnames()
    pv = int(geo.prov[per.county[q]])
    i = int(per.surname[q])
    return station_name_independent(rng, form, sn.text[i], sn.reading[i], per.given[q], bool(per.male[q]), age,
                                    geo.prov_short[pv], geo.prov_region[pv], per.nickname[q], p.own_nickname_share)


# ---------------------------------------------------------------- station records

_GENDER_FORMS = (("男", "女", 0.80), ("男性", "女性", 0.12), ("M", "F", 0.08))
_NOTES = ("长期滞留", "已送医治疗", "公安机关护送入站", "已采集DNA", "拒绝透露个人信息", "多次受助",
          "由群众报警送来", "已发布寻亲公告")
_FRAGMENT_FORMS = ("自述身份证尾号{t}", "身份证后四位{t}", "自称身份证号后4位是{t}")
_AGE_FORM_W = np.array([0.25, 0.15, 0.15, 0.12, 0.08, 0.08, 0.07])


def _gender_text(rng: np.random.Generator, male: np.ndarray, unknown_rate: float,
                 empty_rate: float = 0.0) -> list[str]:
    n = len(male)
    form = rng.choice(3, n, p=[f[2] for f in _GENDER_FORMS])
    u = rng.random(n)
    out = []
    for m, f, x in zip(male.tolist(), form.tolist(), u.tolist()):
        if x < unknown_rate:
            out.append("未知")
        elif x < unknown_rate + empty_rate:
            out.append("")
        else:
            out.append(_GENDER_FORMS[f][0 if m else 1])
    return out


def _place_text(county: int, with_prov: bool, local: str) -> str:
    geo = ref.geo()
    pref = geo.pref_name[county]
    name = geo.name[county]
    head = geo.prov_full[geo.prov[county]] if with_prov or not pref else ""
    if pref == name:
        pref = ""
    return f"{head}{pref}{name}{local}"


def _far_county(rng: np.random.Generator, n: int) -> np.ndarray:
    """Somewhere far: half a big work city, half anywhere by population."""
    geo = ref.geo()
    out = rng.choice(len(geo.code), n, p=geo.weight)
    city = rng.random(n) < 0.5
    wk = geo.work_cities[rng.choice(len(geo.work_cities), int(city.sum()), p=geo.work_p)]
    out[city] = _in_group(rng, wk, geo.by_pref)
    return out


def _lags(rng: np.random.Generator, n: int, lag_p: tuple[float, ...]) -> np.ndarray:
    kind = rng.choice(4, n, p=np.asarray(lag_p))
    lo = np.array([1, 60, 365, 3650])[kind]
    hi = np.array([60, 365, 3650, 10950])[kind]
    return (lo + rng.random(n) * (hi - lo)).astype(np.int64)


def _stations(rng: np.random.Generator, per: _Persons, rec_person: np.ndarray, first_of: np.ndarray,
              is_true: np.ndarray, p: GeneratorParams) -> tuple[pd.DataFrame, list[str], pd.DataFrame | None]:
    """Station records for ``rec_person``; ``first_of[i]`` is the record index of i's earlier
    admission or -1. Returns the frame (record order = input order), name forms and (independent
    model) what each record was made from."""
    geo, sn = ref.geo(), ref.surnames()
    n = len(rec_person)
    as_of = _days(p.as_of)
    found = np.zeros(n, dtype=np.int64)
    fcounty = np.zeros(n, dtype=np.int64)
    first = first_of < 0
    i1 = np.flatnonzero(first)
    pp = rec_person[i1]
    avail = as_of - per.missing[pp]
    lag = _lags(rng, len(i1), p.lag_p)
    lag = np.where(lag > avail, 1 + (rng.random(len(i1)) * avail).astype(np.int64), lag)
    found[i1] = np.minimum(per.missing[pp] + np.maximum(lag, 1), as_of)
    mc = per.missing_county[pp]
    cat = rng.choice(3, len(i1), p=np.asarray(p.found_place_p))
    fc = mc.copy()
    s = np.flatnonzero(cat == 0)
    fc[s] = _in_group(rng, geo.pref_key[mc[s]], geo.by_pref)
    s = np.flatnonzero(cat == 1)
    fc[s] = _in_group(rng, geo.prov[mc[s]], geo.by_prov)
    s = np.flatnonzero(cat == 2)
    fc[s] = _far_county(rng, len(s))
    fcounty[i1] = fc
    # Repeat admissions: later, usually in the same province as the first station.
    i2 = np.flatnonzero(~first)
    prev = first_of[i2]
    found[i2] = np.minimum(found[prev] + rng.integers(30, 5 * 365, len(i2)), as_of)
    same = rng.random(len(i2)) < 0.7
    fc2 = _far_county(rng, len(i2))
    fc2[same] = _in_group(rng, geo.prov[fcounty[prev[same]]], geo.by_prov)
    fcounty[i2] = fc2

    pers = rec_person
    age = (found - per.birth[pers]) / 365.25
    station = [geo.station_name(int(c)) for c in fcounty.tolist()]
    fy = tx.ymd(found)[0].tolist()

    independent = p.model == "independent"
    if not independent:
        # Intended name forms; misread-prone surnames get the surname_misread treatment instead.
        forms, w = zip(*p.name_form_p)
        intended = np.array(forms, dtype=object)[rng.choice(len(forms), n, p=np.array(w) / sum(w))]
        prone = np.isin(per.surname[pers], sn.misread)
        mis = prone & np.isin(intended, ["exact", "homophone", "dialect"]) & (rng.random(n) < p.surname_misread_rate)
        intended[mis] = "surname_misread"
        home_cats, home_p, usable_home = HOMETOWN_CATS, p.hometown_p, (2, 1, 3)  # the showcase cat first
        top_up_forms = NAME_FORMS_V1
    else:
        forms, w = zip(*p.name_form_p_independent)
        intended = np.array(forms, dtype=object)[rng.choice(len(forms), n, p=np.array(w) / sum(w))]
        # 吴/胡 and 黄/王 said by someone whose home accent merges them
        province = np.array(geo.prov_short, dtype=object)[geo.prov[per.county[pers]]]
        swaps = cf.surname_swaps()
        surname_text = sn.text[per.surname[pers]]
        eligible = np.array([t in swaps and pv in swaps[t][1] for t, pv in zip(surname_text.tolist(), province.tolist())],
                            dtype=bool)
        southern = eligible & np.isin(intended, ["exact", "homophone"]) & (rng.random(n) < p.southern_surname_rate)
        intended[southern] = "southern_surname"
        home_cats, home_p, usable_home = HOMETOWN_CATS_INDEPENDENT, p.hometown_p_independent, (3, 1, 2, 5)
        top_up_forms = tuple(f for f, _ in p.name_form_p_independent)

    def render(i: int, form: str) -> tuple[str, str]:
        q = int(pers[i])
        if independent:
            return _station_name_independent(rng, form, per, q, float(age[i]), station[i], fy[i], p)
        return _station_name(rng, form, int(per.surname[q]), per.given[q], per.nickname[q],
                             bool(per.male[q]), float(age[i]), station[i], fy[i])

    names, labels = [], []
    for i in range(n):
        a, b = render(i, intended[i])
        names.append(a)
        labels.append(b)

    # Categorical choices for the other columns (drawn before top-ups so that they stay fixed).
    home_cat = rng.choice(len(home_cats), n, p=np.asarray(home_p))
    age_form = np.where(rng.random(n) < p.age_unknown_rate, len(tx.AGE_FORMS) - 1,
                        rng.choice(len(_AGE_FORM_W), n, p=_AGE_FORM_W / _AGE_FORM_W.sum()))

    if p.min_per_form > 0:
        _top_up(rng, names, labels, render, per, pers, first_of, is_true, p.min_per_form, top_up_forms)
        _showcase(rng, names, labels, render, pers, first_of, is_true, age, home_cat, age_form, usable_home)

    if not independent:
        sd = np.where(age < 18, 1.5, p.age_sd + p.age_sd_growth * np.clip(age - 30, 0, None))
        est = np.round(age + np.where(age >= 60, p.elderly_age_bias, 0) + rng.standard_normal(n) * sd)
        est = np.clip(est, 1, 110).astype(int)
        lo_off = rng.integers(2, 6, n)
        hometown = [_hometown_said(rng, int(c), per, int(q)) for c, q in zip(home_cat.tolist(), pers.tolist())]
    else:
        deviation, heaped = age_errors(rng, age, p)
        est = estimated_ages(age, deviation, heaped, p.age_error_scale)
        lo_off = rng.integers(2, 6, n)
        born = tx.ymd(per.birth[pers])[0]
        habit = rng.random(n) < p.station_old_name_habit
        hometown = [_hometown_said_independent(rng, home_cats[c], per, int(q), y, b, h) for c, q, y, b, h in zip(
            home_cat.tolist(), pers.tolist(), fy, born.tolist(), habit.tolist())]
    ages = [tx.age_text(e, tx.AGE_FORMS[f], o) for e, f, o in zip(est.tolist(), age_form.tolist(), lo_off.tolist())]
    dialect = _dialects(rng, per, pers, p)
    heights = _station_heights(rng, per, pers, age, p)
    features = _station_features(rng, per, pers, p)
    idn, notes = _station_ids(rng, per, pers, first_of, p)
    found_place = [
        _place_text(c, w, t + s) for c, w, t, s in zip(
            fcounty.tolist(), (rng.random(n) < 0.3).tolist(),
            _found_local(rng, fcounty), _pick(rng, ref.place_parts()[("all", "found_spot")], n))]
    df = pd.DataFrame({
        "record_id": "", "station": station, "name": names,
        "gender": _gender_text(rng, per.male[pers], p.gender_unknown_rate),
        "estimated_age": ages,
        "found_date": tx.format_dates(found, rng.choice(5, n, p=tx.DATE_FORM_P)),
        "found_place": found_place, "hometown": hometown, "dialect": dialect, "height_cm": heights,
        "features": features, "id_number": idn, "notes": notes})
    df["_found"] = found
    latent = None
    if independent:
        q = pers
        latent = pd.DataFrame({
            "person": q, "surname": sn.text[per.surname[q]], "surname_reading": [sn.reading[i] for i in per.surname[q].tolist()],
            "given": [per.given[i] for i in q.tolist()], "nickname": [per.nickname[i] for i in q.tolist()],
            "male": per.male[q], "province": np.array(geo.prov_short, dtype=object)[geo.prov[per.county[q]]],
            "county": per.county[q], "town": [per.town[i] for i in q.tolist()],
            "village": [per.village[i] for i in q.tolist()], "age": age, "age_deviation": deviation, "age_heaped": heaped,
            "age_form": age_form, "age_lo_off": lo_off, "found_year": fy, "born": born,
            "home_cat": np.array(home_cats, dtype=object)[home_cat], "habit": habit, "name_form": labels,
            "station": station})
    return df, labels, latent


def age_errors(rng: np.random.Generator, age: np.ndarray, p: GeneratorParams) -> tuple[np.ndarray, np.ndarray]:
    """Staff's error in estimating an age (years, before rounding) and whether they round to 5s."""
    n = len(age)
    sd = np.where(age < 18, p.age_sd_child, p.age_sd_adult + p.age_sd_per_year * np.clip(age - 30, 0, None))
    bias = np.where(age >= 50, p.rough_living_bias, 0.0)
    return bias + rng.standard_normal(n) * sd, rng.random(n) < p.age_heaping


def estimated_ages(age: np.ndarray, deviation: np.ndarray, heaped: np.ndarray, scale: float) -> np.ndarray:
    """The age staff write: true age plus ``scale`` times the error, rounded (to 5s where heaped)."""
    est = age + scale * deviation
    est = np.where(heaped & (est >= 15), np.round(est / 5) * 5, np.round(est))
    return np.clip(est, 1, 110).astype(int)


def _top_up(rng, names, labels, render, per, pers, first_of, is_true, k: int, forms: tuple[str, ...]) -> None:
    """Make sure each name form occurs at least ``k`` times among true records (small samples)."""
    sn = ref.surnames()
    single = np.ones(len(names), dtype=bool)  # persons with one admission only
    twice = set(pers[first_of >= 0].tolist())
    single &= ~np.isin(pers, list(twice))
    for form in forms:
        have = sum(1 for i, label in enumerate(labels) if label == form and is_true[i])
        if have >= k:
            continue
        cands = [i for i in rng.permutation(len(names)).tolist()
                 if is_true[i] and labels[i] == "exact" and single[i]]
        for i in cands:
            if have >= k:
                break
            q = int(pers[i])
            old = per.surname[q]
            if form == "surname_misread" and old not in set(sn.misread.tolist()):
                per.surname[q] = sn.misread[int(rng.integers(len(sn.misread)))]
            a, b = render(i, form)
            if b == form:
                names[i], labels[i] = a, b
                have += 1
            else:
                per.surname[q] = old


def _showcase(rng, names, labels, render, pers, first_of, is_true, age, home_cat, age_form,
              usable: tuple[int, ...]) -> None:
    """Make sure one no-name elderly true record has a usable self-reported hometown and age."""
    ok_home = np.isin(home_cat, list(usable))
    ok_age = age_form != len(tx.AGE_FORMS) - 1
    noname = np.array([label == "placeholder" for label in labels], dtype=bool)
    good = is_true & noname & (age >= 60)
    if (good & ok_home & ok_age).any():
        return
    cands = np.flatnonzero(good)
    if not len(cands):
        cands = np.flatnonzero(is_true & (age >= 60) & (first_of < 0)
                               & np.array([label == "exact" for label in labels], dtype=bool))
        if not len(cands):
            return
    i = int(cands[0])
    if labels[i] != "placeholder":
        names[i], labels[i] = render(i, "placeholder")
    home_cat[i] = usable[0]
    age_form[i] = 1


def _hometown_said(rng: np.random.Generator, cat: int, per: _Persons, q: int) -> str:
    geo = ref.geo()
    c = int(per.county[q])
    pv = int(geo.prov[c])
    short = geo.prov_short[pv]
    kind = HOMETOWN_CATS[cat]
    if kind == "missing":
        return ""
    if kind == "wrong":
        other = int(rng.choice(len(geo.prov_short), p=geo.prov_weight))
        pv = other if other != pv else (other + 1) % len(geo.prov_short)
        short = geo.prov_short[pv]
        kind = "province"
    if kind == "province":
        v = int(rng.integers(5))
        return (short, short + "人", f"老家{short}的", geo.prov_full[pv], f"说是{short}的")[v]
    pref, county = geo.pref_name[c], geo.name[c]
    if kind == "fragment":
        use_pref = pref and rng.random() < 0.5
        full = pref if use_pref else county
        v = int(rng.integers(3))
        return (ref.short_place(full), full, ref.short_place(full) + "人")[v]
    if rng.random() < 0.5:
        return f"{short}{ref.short_place(pref) if pref and pref != county else ''}{county}{per.town[q]}"
    return f"{geo.prov_full[pv]}{pref if pref != county else ''}{county}{per.town[q]}{per.village[q]}"


def named_divisions(county: int, year: int, born: int, habit: bool) -> tuple[str, str]:
    """(prefecture, county) names someone writes in ``year`` (older or newer than the gazetteer's)."""
    geo = ref.geo()
    pref, name = geo.pref_name[county], geo.name[county]
    if pref and pref != name:
        pref = cf.division_name(int(geo.pref_key[county]) * 100, pref, year, born, habit)
    elif pref:
        pref = cf.division_name(int(geo.code[county]), pref, year, born, habit)
    name = cf.division_name(int(geo.code[county]), name, year, born, habit)
    return pref, name


def place_text_named(county: int, with_prov: bool, local: str, pref: str, name: str) -> str:
    """As _place_text, with the prefecture and county written as given."""
    geo = ref.geo()
    head = geo.prov_full[geo.prov[county]] if with_prov or not pref else ""
    if pref == name:
        pref = ""
    return f"{head}{pref}{name}{local}"


def hometown_said_independent(rng: np.random.Generator, kind: str, county: int, town: str, village: str,
                              pref: str, name: str) -> str:
    """What a station person says of their hometown (independent model); ``pref``/``name`` are the
    division names they use."""
    geo = ref.geo()
    pv = int(geo.prov[county])
    short = geo.prov_short[pv]
    if kind == "missing":
        return ""
    if kind == "wrong":
        other = int(rng.choice(len(geo.prov_short), p=geo.prov_weight))
        pv = other if other != pv else (other + 1) % len(geo.prov_short)
        short = geo.prov_short[pv]
        kind = "province"
    if kind == "province":
        v = int(rng.integers(7))
        return (short, short + "人", f"老家{short}的", geo.prov_full[pv], f"说是{short}的", f"{short}那边的",
                f"{short}农村的")[v]
    if kind == "colloquial":
        key = int(geo.pref_key[county])
        phrases = [ph for ph, _, keys in cf.place_names().colloquial if key in keys]
        if phrases:
            ph = phrases[int(rng.integers(len(phrases)))]
            return (ph, ph + "人", f"老家{ph}的", f"{ph}那边")[int(rng.integers(4))]
        tail = "那旮旯的" if geo.prov_region[pv] == "northeast" else "乡下的"
        return short + tail
    if kind == "fragment":
        full = pref if (pref and pref != name and rng.random() < 0.5) else name
        v = int(rng.integers(3))
        return (ref.short_place(full), full, ref.short_place(full) + "人")[v]
    if kind == "town_only":  # a township or village the gazetteer does not list
        return town if rng.random() < 0.5 else town + village
    if rng.random() < 0.5:
        return f"{short}{ref.short_place(pref) if pref and pref != name else ''}{name}{town}"
    return f"{geo.prov_full[pv]}{pref if pref != name else ''}{name}{town}{village}"


def _hometown_said_independent(rng: np.random.Generator, kind: str, per: _Persons, q: int, year: int,
                               born: int, habit: bool) -> str:
    c = int(per.county[q])
    pref, name = named_divisions(c, year, born, habit)
    return hometown_said_independent(rng, kind, c, per.town[q], per.village[q], pref, name)


def _dialects(rng: np.random.Generator, per: _Persons, pers: np.ndarray, p: GeneratorParams) -> list[str]:
    geo = ref.geo()
    n = len(pers)
    u, v, w = rng.random(n).tolist(), rng.random(n).tolist(), rng.random(n).tolist()
    other = rng.choice(len(geo.prov_short), n, p=geo.prov_weight).tolist()
    out = []
    for i, q in enumerate(pers.tolist()):
        cond = int(per.condition[q])
        if u[i] < p.dialect_empty_rate:
            out.append("")
        elif cond == 4 or (cond == 1 and v[i] < 0.3):
            out.append("无法交流")
        elif v[i] < 0.12:
            out.append("普通话")
        else:
            pv = int(geo.prov[per.county[q]]) if v[i] < 0.92 else other[i]
            opts = geo.prov_dialects[pv]
            out.append(opts[0] if w[i] < 0.7 or len(opts) == 1 else opts[1 + int(w[i] * 10) % (len(opts) - 1)])
    return out


def _station_heights(rng, per: _Persons, pers: np.ndarray, age: np.ndarray, p: GeneratorParams) -> list[str]:
    n = len(pers)
    h = tx.height_cm(age, per.male[pers], per.height_z[pers])
    h = h + rng.integers(-p.height_noise_cm, p.height_noise_cm + 1, n)
    given = rng.random(n) < p.station_height_rate
    form = rng.choice(len(tx.HEIGHT_FORMS), n, p=tx.HEIGHT_FORM_P)
    return [tx.height_text(a, f) if g else "" for a, f, g in zip(h.tolist(), form.tolist(), given.tolist())]


def _station_features(rng, per: _Persons, pers: np.ndarray, p: GeneratorParams) -> list[str]:
    n = len(pers)
    extra = tx.draw_marks(rng, n, (0.0, 1.0))[:, 0, :]
    has_extra = rng.random(n) < p.extra_mark_rate
    cloth = tx.clothing(rng, n, family=False)
    out = []
    for i, q in enumerate(pers.tolist()):
        bits = []
        for m in per.marks[q]:
            if m[0] < 0 or rng.random() >= p.station_mark_rate:
                continue
            m = m.copy()
            if m[2] > 0 and rng.random() < p.station_side_error_rate:
                m[2] = 3 - m[2]
            bits.append(tx.station_mark(m, int(rng.integers(3))))
        if has_extra[i]:
            bits.append(tx.station_mark(extra[i], int(rng.integers(3))))
        cond = int(per.condition[q])
        if cond and rng.random() < 0.7:
            opts = tx.STATION_CONDITION[cond]
            bits.append(opts[int(rng.integers(len(opts)))])
        if rng.random() < 0.5:
            bits.append(cloth[i])
        out.append(("，" if rng.random() < 0.7 else "；").join(bits))
    return out


def _station_ids(rng, per: _Persons, pers: np.ndarray, first_of: np.ndarray,
                 p: GeneratorParams) -> tuple[list[str], list[str]]:
    n = len(pers)
    u = rng.random(n).tolist()
    f = rng.integers(0, len(_FRAGMENT_FORMS), n).tolist()
    filler = rng.random(n).tolist()
    fill = _pick(rng, _NOTES, n)
    idn, notes = [], []
    for i, q in enumerate(pers.tolist()):
        bits = []
        if u[i] < p.station_id_rate:
            idn.append(per.id_number[q])
        else:
            idn.append("")
            if u[i] < p.station_id_rate + p.station_id_fragment_rate:
                bits.append(_FRAGMENT_FORMS[f[i]].format(t=per.id_number[q][-4:]))
        if filler[i] < 0.25:
            bits.append(fill[i])
        if first_of[i] >= 0 and filler[i] > 0.5:
            bits.append("曾在其他救助站受助")
        notes.append("，".join(bits))
    return idn, notes


def _found_local(rng: np.random.Generator, county: np.ndarray) -> list[str]:
    parts = ref.place_parts()
    n = len(county)
    street = [a + b for a, b in zip(_pick(rng, parts[("all", "street_head")], n),
                                    _pick(rng, parts[("all", "street_tail")], n))]
    town = [a + "镇" for a in _pick(rng, parts[("all", "town_head")], n)]
    urban = ref.geo().urban[county] | (rng.random(n) < 0.4)
    return [s if u else t for s, t, u in zip(street, town, urban.tolist())]


# ---------------------------------------------------------------- reports


def _reports(rng: np.random.Generator, per: _Persons, rep_person: np.ndarray, second: np.ndarray,
             p: GeneratorParams) -> pd.DataFrame:
    geo, sn, parts = ref.geo(), ref.surnames(), ref.place_parts()
    n = len(rep_person)
    q = rep_person
    sur = sn.text[per.surname[q]]
    given = [per.given[i] for i in q.tolist()]
    names = [a + b for a, b in zip(sur.tolist(), given)]

    src = rng.choice(3, n, p=np.asarray(p.source_p))
    # A second report comes from another source than the first one of the same person.
    first_row = np.full(len(per.male), -1, dtype=np.int64)
    first_row[q[~second]] = np.flatnonzero(~second)
    s2 = np.flatnonzero(second)
    src[s2] = (src[first_row[q[s2]]] + rng.integers(1, 3, len(s2))) % 3

    # Aliases: nickname, former name (曾用名) or both, in assorted separators.
    has_alias = rng.random(n) < p.alias_rate
    kind = rng.choice(3, n, p=[0.7, 0.2, 0.1]).tolist()
    seps = _pick(rng, ("、", ",", ";", " ", "，"), n)
    aliases = []
    for i, qq in enumerate(q.tolist()):
        if not has_alias[i]:
            aliases.append("")
            continue
        nick, former = per.nickname[qq], sur[i] + per.former_given[qq]
        k = kind[i] if former != names[i] else 0  # a former name equal to the name is no alias
        aliases.append((nick, former, nick + seps[i] + former)[k])

    male = per.male[q]
    gender = _gender_text(rng, male, 0.0, empty_rate=0.02)

    shift = np.where(second & (rng.random(n) < 0.3), rng.integers(1, 31, n), 0)
    missing = np.maximum(per.missing[q] - shift, per.birth[q] + 1)  # family recalls an earlier day
    birth = per.birth[q]
    prec = np.where(second, rng.choice(4, n, p=np.asarray(p.second_birth_precision_p)),
                    rng.choice(4, n, p=np.asarray(p.birth_precision_p)))
    by, bm, _ = tx.ymd(birth)
    full_dates = tx.format_dates(birth, rng.choice(5, n, p=tx.DATE_FORM_P))
    yf = rng.integers(0, 2, n).tolist()
    ymf = rng.integers(0, 4, n).tolist()
    birth_txt = []
    for i, (pr, y, m) in enumerate(zip(prec.tolist(), by.tolist(), bm.tolist())):
        birth_txt.append(full_dates[i] if pr == 0 else tx.YEAR_FORMS[yf[i]].format(y=y) if pr == 1
                         else tx.YEAR_MONTH_FORMS[ymf[i]].format(y=y, m=m) if pr == 2 else "")
    age_miss = ((missing - birth) / 365.25).astype(int)
    show_age = (prec == 3) | (rng.random(n) < 0.25)
    age_txt = [str(a) if s else "" for a, s in zip(age_miss.tolist(), show_age.tolist())]

    show_id = rng.random(n) < p.report_id_rate
    idn = [per.id_number[i] if s else "" for i, s in zip(q.tolist(), show_id.tolist())]

    # Missing place: the person's own town when lost at home, else a street or town there.
    mc = per.missing_county[q]
    at_home = (mc == per.county[q]) & (rng.random(n) < 0.6)
    local = _found_local(rng, mc)
    rural = _pick(rng, parts[("all", "missing_spot")], n)
    city = _pick(rng, parts[("all", "missing_spot_urban")], n)
    urban_spot = (geo.urban[mc] | (mc != per.county[q])).tolist()
    spot = [c if u else r for r, c, u in zip(rural, city, urban_spot)]
    with_prov = (rng.random(n) < 0.5).tolist()
    home_local = [per.town[qq] + per.village[qq] + per.extra[qq] for qq in q.tolist()]
    latent = None
    if p.model == "independent":  # division names as written in the year of the report
        year = tx.ymd(missing)[0].tolist()
        born = tx.ymd(birth)[0].tolist()
        habit = (rng.random(n) < p.report_old_name_habit).tolist()
        missing_named = [named_divisions(c, y, b, h) for c, y, b, h in zip(mc.tolist(), year, born, habit)]
        mplace = [place_text_named(c, w, (per.town[qq] if h else lived) + s, *nd) for c, w, h, lived, s, qq, nd in zip(
            mc.tolist(), with_prov, at_home.tolist(), local, spot, q.tolist(), missing_named)]
        home_prov = (rng.random(n) < 0.85).tolist()
        hometown = [place_text_named(c, w, loc, *named_divisions(c, y, b, h)) for c, w, loc, y, b, h in zip(
            per.county[q].tolist(), home_prov, home_local, year, born, habit)]
        latent = pd.DataFrame({"person": q, "county": per.county[q], "with_province": home_prov,
                               "local": home_local, "year": year, "born": born, "habit": habit})
    else:
        mplace = [_place_text(c, w, (per.town[qq] if h else lived) + s) for c, w, h, lived, s, qq in zip(
            mc.tolist(), with_prov, at_home.tolist(), local, spot, q.tolist())]
        home_prov = (rng.random(n) < 0.85).tolist()
        hometown = [_place_text(c, w, loc) for c, w, loc in zip(per.county[q].tolist(), home_prov, home_local)]

    age_at = (missing - birth) / 365.25
    h = tx.height_cm(age_at, male, per.height_z[q])
    hform = rng.choice(len(tx.HEIGHT_FORMS), n, p=tx.HEIGHT_FORM_P).tolist()
    show_h = (rng.random(n) < p.report_height_rate).tolist()
    heights = [tx.height_text(a, f) if s else "" for a, f, s in zip(h.tolist(), hform, show_h)]

    features = _report_features(rng, per, q, p)
    show_phone = (rng.random(n) < p.phone_rate).tolist()
    dashes = (rng.random(n) < 0.2).tolist()
    tail = rng.integers(0, 10000, n).tolist()
    phones = [("" if not s else f"170-0000-{t:04d}" if d else f"1700000{t:04d}")
              for s, d, t in zip(show_phone, dashes, tail)]
    df = pd.DataFrame({
        "report_id": "", "source": [SOURCES[i] for i in src.tolist()], "name": names,
        "aliases": aliases, "gender": gender, "birth_date": birth_txt, "age_at_missing": age_txt,
        "id_number": idn, "missing_date": tx.format_dates(missing, rng.choice(5, n, p=tx.DATE_FORM_P)),
        "missing_place": mplace, "hometown": hometown, "height_cm": heights, "features": features,
        "contact_phone": phones})
    df["_missing"] = missing
    return df, latent


def _report_features(rng, per: _Persons, q: np.ndarray, p: GeneratorParams) -> list[str]:
    n = len(q)
    cloth = tx.clothing(rng, n, family=True)
    show_cloth = (rng.random(n) < 0.6).tolist()
    show_cond = (rng.random(n) < 0.8).tolist()
    keep = (rng.random((n, per.marks.shape[1])) < p.report_mark_rate).tolist()
    var = rng.integers(0, 6, (n, per.marks.shape[1] + 1)).tolist()
    marks = per.marks[q].tolist()
    out = []
    for i, qq in enumerate(q.tolist()):
        bits = [tx.family_mark(m, var[i][j]) for j, m in enumerate(marks[i]) if m[0] >= 0 and keep[i][j]]
        cond = int(per.condition[qq])
        if cond and show_cond[i]:
            opts = tx.FAMILY_CONDITION[cond]
            bits.append(opts[var[i][-1] % len(opts)])
        if show_cloth[i]:
            bits.append(cloth[i])
        out.append("，".join(bits))
    return out


# ---------------------------------------------------------------- the whole data set


def generate(n_stations: int, n_reports: int, seed: int = 0,
             params: GeneratorParams | None = None) -> Generated:
    """Station records, reports and the truth pairs; deterministic for ``seed``."""
    p = params or GeneratorParams()
    if n_stations < 0 or n_reports < 0:
        raise ValueError("counts must be >= 0")
    if not 0 <= p.match_rate <= 1:
        raise ValueError("match_rate must be in [0, 1]")
    rng = np.random.default_rng(seed)

    # Head counts: r reported persons (some twice), m of them at a station, u unreported at one.
    true_recs = round(n_stations * p.match_rate)
    r = math.ceil(n_reports / (1 + p.twice_reported_rate)) if n_reports else 0
    twice_n = n_reports - r
    m = min(math.ceil(true_recs / (1 + p.two_station_rate)) if true_recs else 0, r)
    m_two = min(true_recs - m, math.ceil(m * p.two_station_rate)) if m else 0
    other = n_stations - m - m_two
    u = math.ceil(other / (1 + p.two_station_rate)) if other else 0
    u_two = other - u

    per = _persons(rng, r + u, p)
    matched = rng.choice(r, m, replace=False) if m else np.zeros(0, dtype=np.int64)
    unreported = np.arange(r, r + u)
    st_persons = np.concatenate([matched, unreported]).astype(np.int64)
    again = np.concatenate([rng.choice(matched, m_two, replace=False) if m_two else np.zeros(0, np.int64),
                            rng.choice(unreported, u_two, replace=False) if u_two else np.zeros(0, np.int64)])
    pos = {int(x): i for i, x in enumerate(st_persons.tolist())}
    rec_person = np.concatenate([st_persons, again]).astype(np.int64)
    first_of = np.concatenate([np.full(len(st_persons), -1),
                               np.array([pos[int(x)] for x in again.tolist()], dtype=np.int64)])
    is_true = rec_person < r
    stations, labels, station_latent = _stations(rng, per, rec_person, first_of, is_true, p)

    twice = rng.choice(r, twice_n, replace=False) if twice_n else np.zeros(0, np.int64)
    rep_person = np.concatenate([np.arange(r), twice]).astype(np.int64)
    second = np.concatenate([np.zeros(r, bool), np.ones(len(twice), bool)])
    reports, report_latent = _reports(rng, per, rep_person, second, p)

    # Ids in a random order so that neither ids nor row order say anything about the truth.
    st_order = rng.permutation(len(stations))
    st_ids = np.empty(len(stations), dtype=object)
    st_ids[st_order] = [f"S{i + 1:06d}" for i in range(len(stations))]
    stations["record_id"] = st_ids
    rp_order = rng.permutation(len(reports))
    rp_ids = np.empty(len(reports), dtype=object)
    rp_ids[rp_order] = [f"R{i + 1:07d}" for i in range(len(reports))]
    reports["report_id"] = rp_ids

    st_true = pd.DataFrame({"station_record_id": st_ids[is_true], "person": rec_person[is_true],
                            "name_form": np.array(labels, dtype=object)[is_true],
                            "_found": stations["_found"].to_numpy()[is_true]})
    rp = pd.DataFrame({"report_id": rp_ids, "person": rep_person, "_missing": reports["_missing"].to_numpy()})
    truth = st_true.merge(rp, on="person", how="inner")
    assert (truth["_found"] > truth["_missing"]).all(), "found before missing"
    truth["person_id"] = [f"P{x + 1:07d}" for x in truth["person"].tolist()]
    truth["name_category"] = truth["name_form"].map(NAME_CATEGORY)
    truth["name_group"] = truth["name_form"].map(NAME_GROUP)
    truth = truth.sort_values(["station_record_id", "report_id"]).reset_index(drop=True)

    stations = stations.iloc[st_order].drop(columns="_found").reset_index(drop=True)
    reports = reports.iloc[rp_order].drop(columns="_missing").reset_index(drop=True)
    if station_latent is not None:
        station_latent = station_latent.iloc[st_order].reset_index(drop=True)
        station_latent.insert(0, "record_id", stations["record_id"].to_numpy())
    if report_latent is not None:
        report_latent = report_latent.iloc[rp_order].reset_index(drop=True)
        report_latent.insert(0, "report_id", reports["report_id"].to_numpy())
    return Generated(stations=stations[list(STATION_COLUMNS)].astype(str),
                     reports=reports[list(REPORT_COLUMNS)].astype(str),
                     truth=truth[list(TRUTH_COLUMNS)].astype(str),
                     station_latent=station_latent, report_latent=report_latent)


# ---------------------------------------------------------------- writing


def _suffix(headers: str, fmt: str, encoding: str) -> str:
    s = "_zh" if headers == "zh" else ""
    if fmt == "csv" and encoding != "utf-8":
        s += "_" + encoding.replace("-", "")
    return s + "." + fmt


def write(gen: Generated, out_dir, *, headers: str = "en", fmt: str = "csv", encoding: str = "utf-8",
          tables: tuple[str, ...] = ("stations", "reports", "truth")) -> dict[str, Path]:
    """Write stations/reports (``stations_zh_gb18030.csv`` ... by options) and ``truth.csv``
    (always English headers, UTF-8). Returns table -> path."""
    if headers not in ("en", "zh") or fmt not in ("csv", "xlsx") or encoding not in (
            "utf-8", "utf-8-sig", "gb18030"):
        raise ValueError("headers must be en|zh, fmt csv|xlsx, encoding utf-8|utf-8-sig|gb18030")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for table, df, zh in (("stations", gen.stations, STATION_ZH), ("reports", gen.reports, REPORT_ZH)):
        if table not in tables:
            continue
        frame = df.rename(columns=zh) if headers == "zh" else df
        path = out / f"{table}{_suffix(headers, fmt, encoding)}"
        if fmt == "csv":
            frame.to_csv(path, index=False, encoding=encoding)
        else:
            frame.to_excel(path, index=False, engine="openpyxl")
        paths[table] = path
    if "truth" in tables:
        paths["truth"] = out / "truth.csv"
        gen.truth.to_csv(paths["truth"], index=False, encoding="utf-8")
    return paths


# The checked-in sample was made with the first model; kept so that data/sample stays what it is.
SAMPLE = {"n_stations": 300, "n_reports": 3000, "seed": 20261129, "params": GeneratorParams(model="sample_v1")}


def write_sample(out_dir) -> dict[str, Path]:
    """The checked-in sample: English UTF-8 CSVs, truth, and Chinese-header XLSX / GB18030 copies."""
    gen = generate(**SAMPLE)
    paths = write(gen, out_dir)
    paths["stations_zh"] = write(gen, out_dir, headers="zh", fmt="xlsx", tables=("stations",))["stations"]
    paths["reports_zh"] = write(gen, out_dir, headers="zh", encoding="gb18030", tables=("reports",))["reports"]
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xunqin.data.generate", description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=SAMPLE["n_stations"])
    ap.add_argument("--reports", type=int, default=SAMPLE["n_reports"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--headers", choices=("en", "zh"), default="en")
    ap.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ap.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "gb18030"), default="utf-8")
    ap.add_argument("--model", choices=("independent", "sample_v1"), default="independent")
    ap.add_argument("--sample", action="store_true",
                    help="write the checked-in sample set (300 x 3000, seed 20261129, model sample_v1) to --out")
    a = ap.parse_args(argv)
    if a.sample:
        paths = write_sample(a.out)
    else:
        gen = generate(a.stations, a.reports, a.seed, GeneratorParams(model=a.model))
        paths = write(gen, a.out, headers=a.headers, fmt=a.format, encoding=a.encoding)
    for k, v in paths.items():
        print(f"{k}: {v}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
