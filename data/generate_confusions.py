"""How station staff write a name they hear, and how people word a hometown: the generator's own
sound table, accent rules, nickname forms and place names (files ``data/gen_*.csv``, sources in
their headers and in GENERATOR.md).

Nothing here reads the matcher's tables (``normalizers/``, ``data/name_variants.csv``,
``dialects.csv``, ``surname_readings.csv``, ``division_renames.csv``) or asks pypinyin for a
reading: the confusions are those of speech, not the matcher's folds run backwards. The functions
are also what the perturbation suite (``benchmarks/perturb.py``) applies, one family at a time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from xunqin.data import generate_ref as ref

ACCENT_FAMILIES = ("n_l", "f_h", "zh_z", "r_l", "r_y", "en_eng", "in_ing", "an_ang", "ong_eng", "j_z",
                   "b_p", "d_t", "g_k", "v_i")
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
             "r", "z", "c", "s", "y", "w")


# ---------------------------------------------------------------- the sound table


@dataclass(frozen=True)
class SoundTable:
    main: dict[str, str]  # character -> its first listed reading
    readings: dict[str, tuple[str, ...]]  # character -> every kept reading
    by_syllable: dict[str, tuple[tuple[str, ...], np.ndarray]]  # syllable -> characters, pick p


@functools.cache
def sounds() -> SoundTable:
    """Characters by reading from ``gen_char_readings.csv``. Staff writing a heard syllable pick
    everyday, name-like characters: weight (uses of that reading + 1) ** 0.7, x20 for characters
    of the name model; a character written for a secondary reading counts only its uses in it."""
    df = ref.read_table("gen_char_readings.csv")
    good = ref.name_chars()
    main: dict[str, str] = {}
    readings: dict[str, tuple[str, ...]] = {}
    groups: dict[str, list[tuple[str, float]]] = {}
    for c, text in zip(df["char"], df["readings"]):
        items = [x.split(":") for x in text.split()]
        if not items:
            continue
        main[c] = items[0][0]
        readings[c] = tuple(s for s, _ in items)
        for k, (syl, uses) in enumerate(items):
            n = int(uses)
            if n == 0 and c not in good:  # in no phrase at all (耪, 蜒): nobody writes it for a name
                continue
            w = (n + 1) ** 0.7 * (20.0 if c in good else 1.0) * (1.0 if k == 0 else 0.5)
            groups.setdefault(syl, []).append((c, w))
    by_syllable = {}
    for syl, cw in groups.items():
        w = np.array([x[1] for x in cw])
        by_syllable[syl] = (tuple(x[0] for x in cw), w / w.sum())
    return SoundTable(main, readings, by_syllable)


@functools.cache
def name_readings() -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    df = ref.read_table("gen_name_readings.csv")
    out: dict[str, tuple[list[str], list[float]]] = {}
    for c, r, s in zip(df["char"], df["reading"], df["share"].astype(float)):
        out.setdefault(c, ([], []))
        out[c][0].append(r)
        out[c][1].append(s)
    return {c: (tuple(r), np.array(s) / sum(s)) for c, (r, s) in out.items()}


def heard(rng: np.random.Generator, surname: str, surname_reading: str, given: str) -> list[str]:
    """The syllable a listener hears for each character: the surname by its surname reading
    (compound surnames per character), given-name characters by their name reading."""
    table, names = sounds(), name_readings()
    out = [surname_reading] if len(surname) == 1 else [table.main.get(c, "") for c in surname]
    for c in given:
        if c in names:
            r, p = names[c]
            out.append(r[int(rng.choice(len(r), p=p))])
        else:
            out.append(table.main.get(c, ""))
    return out


def write_syllable(rng: np.random.Generator, syllable: str, avoid: str) -> str | None:
    """A character staff would write for ``syllable``, not ``avoid``; None when none has it."""
    chars, p = sounds().by_syllable.get(syllable, ((), None))
    keep = [i for i, c in enumerate(chars) if c != avoid]
    if not keep:
        return None
    w = p[keep] / p[keep].sum()
    return chars[keep[int(rng.choice(len(keep), p=w))]]


def homophone(rng: np.random.Generator, chars: list[str], syls: list[str]) -> str | None:
    """One or more characters written by sound (each further one with chance 1/2)."""
    order = rng.permutation(len(chars)).tolist()
    out, changed = list(chars), False
    for i in order:
        if changed and rng.random() < 0.5:
            continue
        if syls[i]:
            new = write_syllable(rng, syls[i], chars[i])
            if new:
                out[i], changed = new, True
    return "".join(out) if changed else None


# ---------------------------------------------------------------- accents


@dataclass(frozen=True)
class AccentRule:
    family: str
    part: str  # initial | final | syllable | surname
    mapping: dict[str, str]  # for initial/final: {from: to}; syllable: {syl: syl}; surname: {char: char}
    provinces: frozenset[str]
    weight: float


@functools.cache
def accent_rules() -> tuple[AccentRule, ...]:
    df = ref.read_table("gen_accent_rules.csv")
    out = []
    for fam, part, a, b, provs, w in df.itertuples(index=False):
        if part == "syllable":
            mapping = dict(x.split(">") for x in a.split())
        else:
            mapping = {a: b}
        out.append(AccentRule(fam, part, mapping, frozenset(provs.split("|")), float(w)))
    return tuple(out)


def _split(syl: str) -> tuple[str, str]:
    for ini in _INITIALS:
        if syl.startswith(ini) and len(syl) > len(ini):
            return ini, syl[len(ini):]
    return "", syl


def shift(rule: AccentRule, syl: str) -> str | None:
    """``syl`` as heard under ``rule``; None if the rule does not touch it or the result is no
    syllable any common character has."""
    if rule.part == "syllable":
        new = rule.mapping.get(syl)
    elif rule.part == "initial":
        ini, fin = _split(syl)
        (a, b), = rule.mapping.items()
        new = b + fin if ini == a else None
    elif rule.part == "final":
        ini, fin = _split(syl)
        (a, b), = rule.mapping.items()
        # only the nasal coda: 'eng' in 'feng', not in 'yeng'; 'in' not inside 'ing'
        new = ini + fin[: -len(a)] + b if fin.endswith(a) and not (a == "in" and fin.endswith("ing")) \
            and not (a == "en" and fin.endswith("eng")) and not (a == "an" and fin.endswith("ang")) else None
    else:
        return None
    return new if new and new != syl and new in sounds().by_syllable else None


def accent_options(syls: list[str], province: str | None, families: tuple[str, ...] | None = None
                   ) -> list[tuple[int, str, float]]:
    """(character position, shifted syllable, weight) for every rule that applies; rules of the
    speaker's own province weigh x1, others x0.05 (the listener's ear, or a wrong province)."""
    out = []
    for rule in accent_rules():
        if rule.part == "surname" or (families is not None and rule.family not in families):
            continue
        home = province is None or province in rule.provinces
        for i, s in enumerate(syls):
            new = shift(rule, s) if s else None
            if new:
                out.append((i, new, rule.weight * (1.0 if home else 0.05)))
    return out


def accent(rng: np.random.Generator, chars: list[str], syls: list[str], province: str | None,
           families: tuple[str, ...] | None = None) -> str | None:
    """One syllable (two with 25%) heard through an accent and written by its new sound."""
    opts = accent_options(syls, province, families)
    if not opts:
        return None
    w = np.array([o[2] for o in opts])
    n_sub = 2 if rng.random() < 0.25 and len({o[0] for o in opts}) > 1 else 1
    out, done = list(chars), set()
    for j in rng.choice(len(opts), len(opts), replace=False, p=w / w.sum()).tolist():
        i, new_syl, _ = opts[j]
        if i in done:
            continue
        new = write_syllable(rng, new_syl, chars[i])
        if new:
            out[i] = new
            done.add(i)
        if len(done) >= n_sub:
            break
    return "".join(out) if done else None


@functools.cache
def surname_swaps() -> dict[str, tuple[str, frozenset[str]]]:
    """Surname -> (surname it is heard as, provinces where the accent does that): 吴/胡, 黄/王."""
    return {a: (b, r.provinces) for r in accent_rules() if r.part == "surname" for a, b in r.mapping.items()}


# ---------------------------------------------------------------- nicknames and partial names

RANKS = ("大", "二", "三", "四", "老幺")
TAILS_M = ("娃", "毛", "狗", "蛋")
TAILS_F = ("妞", "丫", "妹", "毛")
GENERIC_M = ("狗蛋", "铁蛋", "石头", "柱子", "栓子", "小胖", "黑子", "虎子", "毛蛋")
GENERIC_F = ("丫头", "妞妞", "毛毛", "翠翠", "胖妞", "小丫", "燕子")


@functools.cache
def nickname_forms() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], dict[str, np.ndarray]]:
    """(form, template, sex) per row and region -> weights."""
    df = ref.read_table("gen_nickname_forms.csv")
    regions = [c for c in df.columns if c not in ("form", "template", "sex")]
    return (tuple(df["form"]), tuple(df["template"]), tuple(df["sex"]),
            {r: df[r].astype(float).to_numpy() for r in regions})


def nicknames(rng: np.random.Generator, given: list[str], male: np.ndarray, region: np.ndarray
              ) -> list[str]:
    """A 小名 per person as their home region forms it (小明, 阿明, 明娃, 二娃, 狗蛋 ...)."""
    forms, templates, sexes, weights = nickname_forms()
    n = len(given)
    kind = np.zeros(n, dtype=np.int64)
    for reg, w_all in weights.items():
        for is_male in (True, False):
            rows = np.flatnonzero((region == reg) & (male == is_male))
            if not len(rows):
                continue
            w = w_all.copy()
            w[[s != "any" and (s == "M") != is_male for s in sexes]] = 0.0
            kind[rows] = rng.choice(len(forms), len(rows), p=w / w.sum())
    r, t, x = rng.integers(0, 1 << 30, (3, n)).tolist()
    out = []
    for g, m, k, a, b, c in zip(given, male.tolist(), kind.tolist(), r, t, x):
        tails = TAILS_M if m else TAILS_F
        generic = GENERIC_M if m else GENERIC_F
        out.append(templates[k].format(g=g[-1], f=g[0], r=RANKS[a % len(RANKS)], t=tails[b % len(tails)],
                                       x=generic[c % len(generic)]))
    return out


def surname_alone(rng: np.random.Generator, surname: str, male: bool, age: float) -> str:
    """王某 / 王某某 / 老王 (adults) / 小王 (young) / 王氏 (old women)."""
    opts = [(surname + "某", 0.55), (surname + "某某", 0.1)]
    if age >= 30:
        opts.append(("老" + surname, 0.25))
    elif len(surname) == 1:
        opts.append(("小" + surname, 0.15))
    if not male and age >= 60:
        opts.append((surname + "氏", 0.1))
    w = np.array([o[1] for o in opts])
    return opts[int(rng.choice(len(opts), p=w / w.sum()))][0]


def drop_character(rng: np.random.Generator, surname: str, given: str) -> str | None:
    """张伟 or 张明 for 张伟明: one given-name character left out (the last one 60%)."""
    if len(given) < 2:
        return None
    k = len(given) - 1 if rng.random() < 0.6 else 0
    return surname + given[:k] + given[k + 1:]


def split_name(rng: np.random.Generator, surname: str, given: str) -> str:
    """The name written in parts: 王 秀英, 王·秀英, 王 秀 英."""
    u = rng.random()
    if u < 0.4:
        return f"{surname} {given}"
    if u < 0.6:
        return f"{surname}·{given}"
    return " ".join(surname + given)


# ---------------------------------------------------------------- places


@dataclass(frozen=True)
class PlaceNames:
    other: dict[int, tuple[str, int, str]]  # division code -> (other name, year, older|newer)
    colloquial: tuple[tuple[str, int, frozenset[int]], ...]  # (phrase, province index, prefecture keys)


@functools.cache
def place_names() -> PlaceNames:
    geo = ref.geo()
    df = ref.read_table("gen_place_renames.csv")
    other = {int(c): (n, int(y), k) for c, n, y, k in zip(df["code"], df["other_name"], df["year"], df["kind"])}
    col = ref.read_table("gen_place_colloquial.csv")
    pref_by_name = {str(n): int(k) for n, k in zip(geo.pref_name, geo.pref_key) if n}
    prov = {s: i for i, s in enumerate(geo.prov_short)}
    rows = []
    for phrase, p, prefs in col.itertuples(index=False):
        keys = frozenset(pref_by_name[x] for x in prefs.split("|") if x in pref_by_name)
        rows.append((phrase, prov[p], keys))
    return PlaceNames(other, tuple(rows))


def division_name(code: int, name: str, year: int, born: int, habit: bool) -> str:
    """The name someone writes in ``year`` for division ``code`` (gazetteer name ``name``): the
    name in use that year; out of ``habit``, a person born before a rename keeps the name they
    grew up with."""
    got = place_names().other.get(int(code))
    if got is None:
        return name
    other, changed, kind = got
    before, after = (other, name) if kind == "older" else (name, other)
    if year < changed or (habit and born < changed):
        return before
    return after


def renamed_to(code: int, kind: str) -> str | None:
    """The other name of division ``code`` if it has one of ``kind`` (older|newer)."""
    got = place_names().other.get(int(code))
    return got[0] if got is not None and got[2] == kind else None
