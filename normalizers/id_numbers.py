"""Resident identity numbers (GB 11643) and ID fragments in free-text notes.

``parse_id`` validates an ``身份证号`` cell (18 digits with ISO 7064 MOD 11-2 check, or the old
15-digit form, converted to 18). ``id_fragments`` reads notes such as 自述身份证尾号1234.
Results never show the full number in ``repr`` so they cannot leak into logs by accident.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import operator
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .cells import cached_parser, is_missing as _is_missing, parse_cell

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
# First two digits: province-level codes in GB/T 2260 (plus 71 台湾, 81 香港, 82 澳门).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})
_MIN_BIRTH = dt.date(1880, 1, 1)
_MAX_LEN = 40

_UNKNOWN = frozenset({
    "", "不详", "未知", "无", "-", "--", "—", "/", "?", "不清楚", "不知道", "待查", "未填", "暂无",
    "不明", "null", "none", "nan", "n/a", "na", "#n/a", "unknown",
})


_SEPARATORS = re.compile(r"[\s\-_]")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+?\d+")


def _mask(number: str) -> str:
    return number[:6] + "*" * (len(number) - 6)


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A validated 18-character resident ID; repr masks all but the region code."""

    number: str
    region: str
    birth: dt.date
    gender: str

    def __repr__(self) -> str:
        return f"IdNumber(number={_mask(self.number)!r}, region={self.region!r}, gender={self.gender!r})"


@dataclass(frozen=True, repr=False)
class IdFragment:
    """Part of an ID number found in notes: kind 'tail', 'head' or 'full' (18 chars, validated)."""

    kind: str
    digits: str

    def __repr__(self) -> str:
        shown = _mask(self.digits) if self.kind == "full" else self.digits
        return f"IdFragment(kind={self.kind!r}, digits={shown!r})"


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check digit needs exactly 17 ASCII digits")
    total = sum(map(operator.mul, map(int, first17), _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def _birth(yyyymmdd: str) -> dt.date:
    try:
        d = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        raise ValueError("invalid birth date") from None
    if not _MIN_BIRTH <= d <= dt.date.today():
        raise ValueError("invalid birth date")
    return d


def _validate(s: str) -> IdNumber:
    if len(s) == 15:
        if not s.isdigit():
            raise ValueError("15-digit ID must be all digits")
        first17 = s[:6] + "19" + s[6:]
        s = first17 + check_digit(first17)
    elif len(s) == 18:
        if not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
            raise ValueError("invalid characters in ID number")
        if check_digit(s[:17]) != s[17]:
            raise ValueError("check digit")
    else:
        raise ValueError("ID number must have 18 (or 15) characters")
    if s[:2] not in PROVINCE_CODES:
        raise ValueError("invalid region code")
    birth = _birth(s[6:14])
    return IdNumber(s, s[:6], birth, "男" if int(s[16]) % 2 else "女")


def _parse_core(raw: str) -> IdNumber | None:
    s = unicodedata.normalize("NFKC", raw).strip()
    if s.lower() in _UNKNOWN:
        return None
    s = _SEPARATORS.sub("", s).lstrip("'").upper()  # 'prefix: Excel text marker
    if len(s) > _MAX_LEN:
        raise ValueError("too long for an ID number")
    if not s.isascii():
        raise ValueError("invalid characters in ID number")
    if _SCIENTIFIC.fullmatch(s):
        raise ValueError("ID number stored as a number lost its digits")
    return _validate(s)


def _from_number(raw: float) -> IdNumber | None:
    """A number cell: whole digits only; floats hold ~15-16 significant digits, so an 18-digit
    ID in a float is already corrupted."""
    if isinstance(raw, numbers.Integral):
        text = str(int(raw))
    else:
        x = float(raw)
        if not math.isfinite(x) or x != int(x) or x >= 1e15:
            raise ValueError("ID number stored as a number lost its digits")
        text = str(int(x))
    result, error = _parse_text(text)
    if error is not None:
        raise ValueError(error)
    return result


def parse_id(raw: object) -> IdNumber | None:
    """ID cell -> IdNumber; None when empty/unknown; ValueError(reason) when invalid."""
    return parse_cell(raw, _parse_text, "an ID number", number=_from_number)


_parse_text = cached_parser(_parse_core, maxsize=1 << 14)


# --- fragments in free text -------------------------------------------------------------

_ID_WORD = r"(?:身份证号码|身份证号|身份证|身份号码|身份号|证件号码|证件号|公民身份号码)"
_SEP = r"(?:的|是|为|:|：|,|，|\s)*"
_N = r"(?:[0-9]|[一二三四五六七八九十两])"
_TAIL_WORD = rf"(?:尾号|尾数|后{_N}位(?:数字|数)?|末{_N}位(?:数字|数)?|最后{_N}位(?:数字|数)?|末尾)"
_HEAD_WORD = rf"(?:前{_N}位(?:数字|数)?|开头|打头|头{_N}位)"
_DIGITS_X = r"(?<![0-9A-Za-z])([0-9]{1,17}[0-9Xx]?)(?![0-9A-Za-z])"
_TAIL = re.compile(rf"({_ID_WORD}{_SEP})?{_TAIL_WORD}{_SEP}{_DIGITS_X}")
_HEAD = re.compile(rf"({_ID_WORD}{_SEP})?{_HEAD_WORD}{_SEP}{_DIGITS_X}")
_FULL_AFTER_WORD = re.compile(rf"{_ID_WORD}{_SEP}{_DIGITS_X}")
_FULL18 = re.compile(r"(?<![0-9A-Za-z])([0-9]{17}[0-9Xx])(?![0-9A-Za-z])")
# A tail/head word without 身份证 belongs to something else when one of these is just before it.
_OTHER_ID = re.compile(r"(电话|手机|手机号|号码|联系方式|银行卡|卡号|车牌|qq|QQ|微信|学号|工号|编号)\S{0,4}$")
_CN_N = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_MAX_TEXT = 5000


def _stated_count(word: str) -> int | None:
    m = re.search(rf"({_N})位", word)
    if not m:
        return None
    c = m.group(1)
    return int(c) if c.isdigit() else _CN_N[c]


def _is_phone(digits: str) -> bool:
    return len(digits) == 11 and digits.startswith("1") and digits.isdigit()


def _about_other_id(text: str, start: int) -> bool:
    return bool(_OTHER_ID.search(text[max(0, start - 8):start]))


@lru_cache(maxsize=1 << 12)
def _fragments(text: str) -> tuple[IdFragment, ...]:
    s = unicodedata.normalize("NFKC", text)[:_MAX_TEXT]
    found: list[tuple[int, IdFragment]] = []

    for m in _FULL18.finditer(s):
        try:
            found.append((m.start(), IdFragment("full", _validate(m.group(1).upper()).number)))
        except ValueError:
            pass  # an 18-digit number that is not a valid ID is not evidence
    for m in _FULL_AFTER_WORD.finditer(s):  # old 15-digit form only counts after 身份证
        if len(m.group(1)) == 15:
            try:
                found.append((m.start(), IdFragment("full", _validate(m.group(1)).number)))
            except ValueError:
                pass

    for kind, pattern, word_re in (("tail", _TAIL, _TAIL_WORD), ("head", _HEAD, _HEAD_WORD)):
        for m in pattern.finditer(s):
            digits = m.group(2).upper()
            if _is_phone(digits) or len(digits) >= 15:
                continue
            if m.group(1) is None and _about_other_id(s, m.start()):
                continue  # e.g. 手机尾号1234
            word = re.search(word_re, m.group(0))
            count = _stated_count(word.group(0)) if word else None
            if count is not None and count != len(digits):
                continue
            if kind == "head":
                if "X" in digits or len(digits) < 2 or digits[:2] not in PROVINCE_CODES:
                    continue
            elif len(digits) < 3:
                continue
            found.append((m.start(), IdFragment(kind, digits)))

    out: list[IdFragment] = []
    for _, frag in sorted(found, key=lambda t: t[0]):
        if frag not in out:
            out.append(frag)
    return tuple(out)


def id_fragments(text: object) -> tuple[IdFragment, ...]:
    """ID fragments in a notes cell: tails (尾号1234), heads (前六位410123), valid full numbers.

    Free text never raises: anything not recognised simply yields no fragment.
    """
    if _is_missing(text) or not isinstance(text, str) or not text.strip():
        return ()
    return _fragments(text)


def id_tails(number: str, fragments: str) -> str:
    """The last four characters of a normalized ID number and of its notes' tail and full
    fragments ('tail:1234|head:410123'), '|'-joined, each once, in that order."""
    tails = [number[-4:]] if len(number) >= 4 else []
    for fragment in fragments.split("|") if fragments else ():
        kind, _, digits = fragment.partition(":")
        if kind in ("tail", "full") and len(digits) >= 4:
            tails.append(digits[-4:])
    return "|".join(dict.fromkeys(tails))
