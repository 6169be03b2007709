"""Surname-aware pinyin keys for Chinese names.

A *key* is the toneless syllables of a name joined by one space, lowercase, with ü
written ``v`` (pypinyin's NORMAL style): ``'zeng guo fan'``. Non-Han characters are
dropped. pypinyin has no surname mode (``lazy_pinyin('曾')`` is ``ceng``), so surnames
are read from ``data/surname_readings.csv`` first.
"""

from __future__ import annotations

import csv
import itertools
import re
from functools import cache, lru_cache
from importlib.resources import files

from .text import clean_text, han_only, to_simplified

__all__ = [
    "MAX_COMBINATIONS",
    "surname_readings",
    "surname_pinyin",
    "given_pinyin",
    "name_pinyin",
    "char_readings",
]

MAX_COMBINATIONS = 8
_SYLLABLE_RE = re.compile(r"^[a-z]+$")


@cache
def surname_readings() -> dict[str, tuple[str, ...]]:
    """Surname -> readings (keys, preferred first) from data/surname_readings.csv."""
    path = files("xunqin.data") / "surname_readings.csv"
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            surname = row["surname"].strip()
            key = " ".join(row["pinyin"].split()).lower()
            if surname and key and key not in out.setdefault(surname, []):
                out[surname].append(key)
    return {k: tuple(v) for k, v in out.items()}


def _prep(s: str | None) -> str:
    return han_only(to_simplified(clean_text(s)))


@lru_cache(maxsize=1 << 14)
def char_readings(ch: str) -> tuple[str, ...]:
    """All toneless readings of one Han character, pypinyin's order (most common first)."""
    from pypinyin import Style, pinyin

    got = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    readings: list[str] = []
    for r in got[0] if got else ():
        # Toneless readings collapse (huá/huà -> hua); keep order, drop junk.
        if _SYLLABLE_RE.match(r) and r not in readings:
            readings.append(r)
    return tuple(readings)


def _phrase_reading(han: str) -> tuple[str, ...]:
    """pypinyin's phrase-aware reading, one syllable per character that has one."""
    from pypinyin import Style, lazy_pinyin

    return tuple(
        s for s in lazy_pinyin(han, style=Style.NORMAL, errors="ignore") if _SYLLABLE_RE.match(s)
    )


@lru_cache(maxsize=1 << 16)
def surname_pinyin(surname: str | None) -> tuple[str, ...]:
    """Reading(s) of a surname: the surname table first, else pypinyin's phrase reading.

    Only table surnames get several readings; for other surnames the extra heteronyms of
    pypinyin are mostly non-surname readings (石 dan) and would only add false keys.
    """
    han = _prep(surname)
    if not han:
        return ()
    table = surname_readings()
    if han in table:
        return table[han]
    syllables = _phrase_reading(han)
    return (" ".join(syllables),) if syllables else ()


@lru_cache(maxsize=1 << 17)
def given_pinyin(given: str | None) -> tuple[str, ...]:
    """All reading combinations of a given name, phrase-aware reading first, at most 8."""
    han = _prep(given)
    if not han:
        return ()
    keys: list[str] = []
    first = " ".join(_phrase_reading(han))
    if first:
        keys.append(first)
    per_char = [char_readings(c) for c in han]
    per_char = [r for r in per_char if r]  # characters without a reading are dropped
    for combo in itertools.product(*per_char):
        if len(keys) >= MAX_COMBINATIONS:
            break
        key = " ".join(combo)
        if key and key not in keys:
            keys.append(key)
    return tuple(keys)


@lru_cache(maxsize=1 << 17)
def name_pinyin(surname: str | None, given: str | None) -> tuple[str, ...]:
    """Full-name keys: surname readings x given readings, most likely first, at most 8."""
    s_keys = surname_pinyin(surname)
    g_keys = given_pinyin(given)
    if not s_keys:
        return g_keys
    if not g_keys:
        return s_keys
    out: list[str] = []
    # Order by rank sum so the second surname reading is not starved by given variants.
    pairs = sorted(
        itertools.product(range(len(s_keys)), range(len(g_keys))), key=lambda p: (p[0] + p[1], p[0])
    )
    for i, j in pairs:
        key = f"{s_keys[i]} {g_keys[j]}"
        if key not in out:
            out.append(key)
        if len(out) >= MAX_COMBINATIONS:
            break
    return tuple(out)
