"""Gender (``性别``) -> '男' / '女'.

Codes follow GB/T 2261.1: 1 男, 2 女, 0 未知, 9 未说明. A trailing '?' (男?) or a leading
疑似 is staff hedging and still counts. Anything else, including 男/女 both, is a ValueError.
"""

from __future__ import annotations

import math
import re
import unicodedata

from .cells import cached_parser, parse_cell

MALE, FEMALE = "男", "女"
_MAX_LEN = 20

_MAP: dict[str, str | None] = {
    **dict.fromkeys(["男", "男性", "男孩", "男童", "男子", "男人", "男的", "m", "male", "man",
                     "boy", "1", "先生"], MALE),
    **dict.fromkeys(["女", "女性", "女孩", "女童", "女子", "女人", "女的", "f", "female", "woman",
                     "girl", "2", "女士"], FEMALE),
    **dict.fromkeys(["", "未知", "不详", "未说明", "未填", "待查", "不明", "不清楚", "无", "-",
                     "--", "—", "/", "?", "??", "0", "9", "u", "unknown", "null", "none",
                     "nan", "n/a", "na", "#n/a"], None),
}
_HEDGE = re.compile(r"^(?:疑似|疑为|应为|可能是|可能|似)|(?:性别)?[?]+$")


def _parse_core(raw: str) -> str | None:
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).lower()
    if len(s) > _MAX_LEN:
        raise ValueError("too long for a gender")
    if s in _MAP:
        return _MAP[s]
    stripped = _HEDGE.sub("", s)
    if stripped and stripped in _MAP:
        return _MAP[stripped]
    if m := re.fullmatch(r"(\d+)\.0+", s):  # '1.0' from a numeric column
        return _parse_core(m.group(1))
    raise ValueError("unreadable gender")


def _from_number(x: float) -> str | None:
    """A code typed as a number (1, 2.0: GB/T 2261.1)."""
    if not math.isfinite(x) or x != int(x):
        raise ValueError("unreadable gender code")
    result, error = _parse_text(str(int(x)))
    if error is not None:
        raise ValueError(error)
    return result


def parse_gender(raw: object) -> str | None:
    """Gender cell -> '男' | '女'; None for unknown/empty (incl. codes 0, 9); ValueError otherwise."""
    return parse_cell(raw, _parse_text, "a gender", number=_from_number)


_parse_text = cached_parser(_parse_core, maxsize=256)
