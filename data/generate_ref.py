"""Reference data for the sample generator: names, places, character sound maps.

Everything is loaded lazily by ``functools.cache`` functions; nothing happens on import.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

ERAS = ("e1", "e2", "e3", "e4")  # born <1960, 1960-79, 1980-94, 1995+
ERA_BOUNDS = (1960, 1980, 1995)  # np.searchsorted(ERA_BOUNDS, year, "right") -> era index


def read_table(name: str) -> pd.DataFrame:
    """Read a reference CSV of ``xunqin.data`` ('#' lines are the source header)."""
    text = (files("xunqin.data") / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)


def zipf_weights(n: int, s: float = 0.9) -> np.ndarray:
    """Normalised weights 1/(r+1)**s for ranks 0..n-1."""
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


# ---------------------------------------------------------------- surnames


@dataclass(frozen=True)
class Surnames:
    text: np.ndarray  # str objects
    p: np.ndarray  # probabilities
    reading: tuple[str, ...]  # correct surname reading, toneless pinyin

    # The sample_v1 model only: pypinyin is asked when these are first used, never by the
    # independent model.
    @property
    def default_reading(self) -> tuple[str, ...]:
        """What pypinyin reads without context."""
        return _default_readings(tuple(self.text))

    @property
    def misread(self) -> np.ndarray:
        """Indices of surnames pypinyin reads wrongly."""
        return np.array([i for i, (r, d) in enumerate(zip(self.reading, self.default_reading)) if r != d])


@functools.cache
def _default_readings(surnames: tuple[str, ...]) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple("".join(lazy_pinyin(s)) for s in surnames)


@functools.cache
def surnames() -> Surnames:
    df = read_table("gen_surnames.csv")
    share = df["share_pct"].astype(float).to_numpy()
    return Surnames(text=df["surname"].to_numpy(dtype=object), p=share / share.sum(), reading=tuple(df["reading"]))


# ---------------------------------------------------------------- given names


@dataclass(frozen=True)
class GivenPool:
    """Pools for one (era, gender); each is (items, probabilities)."""

    name: tuple[np.ndarray, np.ndarray]
    single: tuple[np.ndarray, np.ndarray]
    first: tuple[np.ndarray, np.ndarray]
    second: tuple[np.ndarray, np.ndarray]


@functools.cache
def given_pools() -> dict[tuple[str, str], GivenPool]:
    """(era, 'M'|'F') -> pools with Zipf weights by listed rank."""
    df = read_table("gen_given_names.csv")
    out: dict[tuple[str, str], GivenPool] = {}
    for (era, g), grp in df.groupby(["era", "gender"], sort=True):
        parts = {}
        for kind in ("name", "single", "first", "second"):
            items = grp.loc[grp["kind"] == kind, "text"].to_numpy(dtype=object)
            parts[kind] = (items, zipf_weights(len(items), 0.9 if kind == "name" else 0.6))
        out[(era, g)] = GivenPool(**parts)
    return out


@functools.cache
def name_chars() -> frozenset[str]:
    """Characters that occur in the name model (preferred homophone substitutes)."""
    chars = set("".join(read_table("gen_given_names.csv")["text"]))
    chars |= set("".join(read_table("gen_surnames.csv")["surname"]))
    return frozenset(chars)


# ---------------------------------------------------------------- sounds


@functools.cache
def common_chars() -> tuple[str, ...]:
    """The 3,755 level-1 characters of GB 2312 (the most common hanzi), from the stdlib codec."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:  # level 1 ends at D7F9
                break
            out.append(bytes((hi, lo)).decode("gb2312"))
    return tuple(out)


@functools.cache
def char_use() -> dict[str, int]:
    """How many entries of pypinyin's phrase dictionary use each character: a frequency proxy
    (no character-frequency list ships with the installed packages)."""
    from pypinyin.phrases_dict import phrases_dict

    counts: dict[str, int] = {}
    for phrase in phrases_dict:
        for c in phrase:
            counts[c] = counts.get(c, 0) + 1
    return counts


@functools.cache
def syllable_chars() -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """Toneless pinyin -> (common characters with that default reading, pick probabilities).

    Staff writing a heard name pick everyday, name-like characters: weight = (uses + 1) ** 0.7,
    times 20 for characters of the name model; characters in no phrase at all (耪, 蜒) are left out.
    """
    from pypinyin import lazy_pinyin

    level1 = set(common_chars())
    chars = common_chars() + tuple(c for c in sorted(name_chars()) if c not in level1)
    readings = lazy_pinyin("".join(chars))
    good, use = name_chars(), char_use()
    groups: dict[str, list[str]] = {}
    for c, r in zip(chars, readings):
        if r.isascii() and r.isalpha() and (c in good or use.get(c, 0) > 0):
            groups.setdefault(r, []).append(c)
    out = {}
    for syl, cs in groups.items():
        w = np.array([(use.get(c, 0) + 1) ** 0.7 * (20.0 if c in good else 1.0) for c in cs])
        out[syl] = (tuple(cs), w / w.sum())
    return out


@functools.cache
def phrase_reading(s: str) -> tuple[str, ...]:
    """Toneless pinyin of a given name read as a whole (长生 -> chang sheng, not zhang)."""
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(s))


@functools.cache
def char_reading(c: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(c)[0]


_F_TO_HU = {"fu": "hu", "fa": "hua", "fan": "huan", "fang": "huang", "fei": "hui", "fen": "hun",
            "feng": "hong", "fo": "huo"}
_HU_TO_F = {v: k for k, v in _F_TO_HU.items()}
_FINAL_SWAPS = (("eng", "en"), ("ing", "in"), ("ang", "an"))


def dialect_variants(syl: str) -> tuple[str, ...]:
    """Syllables a dialect shift can turn ``syl`` into (n/l, f/hu, zh/z, ch/c, sh/s, en/eng,
    in/ing, an/ang, r/l), limited to syllables that common characters have."""
    return _dialect_variants(syl)


@functools.cache
def _dialect_variants(syl: str) -> tuple[str, ...]:
    known = syllable_chars()
    cands: list[str] = []
    for retro in ("zh", "ch", "sh"):
        if syl.startswith(retro):
            cands.append(retro[0] + syl[2:])
        elif syl.startswith(retro[0]):
            cands.append(retro + syl[1:])
    if syl.startswith("n"):
        cands.append("l" + syl[1:])
    elif syl.startswith("l"):
        cands += ["n" + syl[1:], "r" + syl[1:]]
    elif syl.startswith("r"):
        cands.append("l" + syl[1:])
    if syl in _F_TO_HU:
        cands.append(_F_TO_HU[syl])
    elif syl in _HU_TO_F:
        cands.append(_HU_TO_F[syl])
    for a, b in _FINAL_SWAPS:
        if syl.endswith(a):
            cands.append(syl[: -len(a)] + b)
        elif syl.endswith(b):
            cands.append(syl + "g")
    out: list[str] = []
    for c in cands:
        if c != syl and c in known and c not in out:
            out.append(c)
    return tuple(out)


@functools.cache
def to_traditional(s: str) -> str:
    return _s2t().convert(s)


@functools.cache
def _s2t():
    from opencc import OpenCC

    return OpenCC("s2t")


# ---------------------------------------------------------------- places


def short_place(name: str) -> str:
    """What people say for a division: 周口市 -> 周口, 商水县 -> 商水, 延边朝鲜族自治州 -> 延边."""
    for suf in ("自治州", "自治县", "自治旗"):
        if name.endswith(suf):
            return name[:2]
    if name.endswith("地区"):
        return name[:-2]
    if len(name) >= 3 and name[-1] in "市县区旗盟州":
        return name[:-1]
    return name


@dataclass(frozen=True)
class Geo:
    """County-level units (counties, districts, county-level cities and prefecture-level cities
    without counties) with their province and prefecture."""

    code: np.ndarray  # int, 6-digit GB/T 2260 code
    name: np.ndarray  # object
    prov: np.ndarray  # int index into prov_* arrays
    pref_name: np.ndarray  # object; '' for municipalities and province-administered counties
    pref_key: np.ndarray  # int, 4-digit prefecture code (grouping key)
    urban: np.ndarray  # bool: a 区 (district) -> street addresses
    weight: np.ndarray  # float, sampling weight for hometowns
    prov_code: tuple[str, ...]
    prov_full: tuple[str, ...]
    prov_short: tuple[str, ...]
    prov_region: tuple[str, ...]
    prov_dialects: tuple[tuple[str, ...], ...]
    prov_weight: np.ndarray
    by_prov: tuple[np.ndarray, ...]  # county indices per province
    by_pref: dict[int, np.ndarray]  # county indices per prefecture key
    work_cities: np.ndarray  # prefecture keys
    work_p: np.ndarray

    def station_name(self, i: int) -> str:
        """The rescue station responsible for county unit ``i``."""
        if self.pref_name[i]:
            return f"{self.pref_name[i]}救助管理站"
        if self.prov_code[self.prov[i]] in ("11", "12", "31", "50"):
            return f"{self.prov_full[self.prov[i]]}{self.name[i]}救助管理站"
        return f"{self.name[i]}救助管理站"


_PSEUDO_PREFS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")


@functools.cache
def geo() -> Geo:
    d = read_table("divisions.csv")
    c6 = d["adcode"].str[:6]
    is_prov = c6.str[2:] == "0000"
    is_pref = (c6.str[4:] == "00") & ~is_prov
    provs = read_table("gen_provinces.csv")
    full = dict(zip(c6[is_prov].str[:2], d.loc[is_prov, "name"]))
    prov_code = tuple(provs["code"])
    prov_index = {c: i for i, c in enumerate(prov_code)}
    pref_names = {
        k[:4]: ("" if n in _PSEUDO_PREFS else n) for k, n in zip(c6[is_pref], d.loc[is_pref, "name"])
    }
    rows = []
    county_prefs = set()
    for code, name in zip(c6[~is_prov & ~is_pref], d.loc[~is_prov & ~is_pref, "name"]):
        if code[:2] not in prov_index or name in _PSEUDO_PREFS:  # 'xx01 市辖区' rows are no place
            continue
        county_prefs.add(code[:4])
        rows.append((int(code), name, prov_index[code[:2]], pref_names.get(code[:4], ""), int(code[:4])))
    # Prefecture-level cities without counties (东莞, 中山, 嘉峪关 ...) act as their own county.
    for code, name in zip(c6[is_pref], d.loc[is_pref, "name"]):
        if code[:4] not in county_prefs and name not in _PSEUDO_PREFS and code[:2] in prov_index:
            rows.append((int(code), name, prov_index[code[:2]], name, int(code[:4])))
    rows.sort()
    code_a = np.array([r[0] for r in rows])
    name_a = np.array([r[1] for r in rows], dtype=object)
    prov_a = np.array([r[2] for r in rows])
    pref_a = np.array([r[3] for r in rows], dtype=object)
    key_a = np.array([r[4] for r in rows])
    urban = np.array([n.endswith("区") for n in name_a])
    pw = provs["weight"].astype(float).to_numpy()
    n_in = np.bincount(prov_a, minlength=len(prov_code))
    # Rural counties send more missing persons than city districts.
    w = pw[prov_a] / n_in[prov_a] * np.where(urban, 0.6, 1.0)
    by_prov = tuple(np.flatnonzero(prov_a == i) for i in range(len(prov_code)))
    by_pref: dict[int, np.ndarray] = {}
    for k in np.unique(key_a):
        by_pref[int(k)] = np.flatnonzero(key_a == k)
    wc = read_table("gen_work_cities.csv")
    wkeys = np.array([int(c[:4]) for c in wc["code"]])
    wp = wc["weight"].astype(float).to_numpy()
    keep = np.array([k in by_pref for k in wkeys])
    return Geo(
        code=code_a, name=name_a, prov=prov_a, pref_name=pref_a, pref_key=key_a, urban=urban,
        weight=w / w.sum(), prov_code=prov_code,
        prov_full=tuple(full.get(c, s) for c, s in zip(prov_code, provs["short"])),
        prov_short=tuple(provs["short"]), prov_region=tuple(provs["region"]),
        prov_dialects=tuple(tuple(x.split("|")) for x in provs["dialects"]),
        prov_weight=pw / pw.sum(), by_prov=by_prov, by_pref=by_pref,
        work_cities=wkeys[keep], work_p=wp[keep] / wp[keep].sum(),
    )


@functools.cache
def place_parts() -> dict[tuple[str, str], tuple[str, ...]]:
    """(region, kind) -> parts; region 'all' applies everywhere."""
    df = read_table("gen_places.csv")
    return {k: tuple(g["text"]) for k, g in df.groupby(["region", "kind"], sort=False)}
