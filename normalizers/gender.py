"""Gender (``性别``) -> '男' / '女'.

Codes follow GB/T 2261.1: 1 男, 2 女, 0 未知, 9 未说明. A trailing '?' (男?) or a leading
疑似 is staff hedging and still counts. Anything else, including 男/女 both, is a ValueError.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from functools import lru_cache
from .cells import is_missing as _is_missing

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




@lru_cache(maxsize=256)
def _parse_text(raw: str) -> tuple[str | None, str | None]:
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).lower()
    if len(s) > _MAX_LEN:
        return None, "too long for a gender"
    if s in _MAP:
        return _MAP[s], None
    stripped = _HEDGE.sub("", s)
    if stripped and stripped in _MAP:
        return _MAP[stripped], None
    if m := re.fullmatch(r"(\d+)\.0+", s):  # '1.0' from a numeric column
        return _parse_text(m.group(1))
    return None, "unreadable gender"


def parse_gender(raw: object) -> str | None:
    """Gender cell -> '男' | '女'; None for unknown/empty (incl. codes 0, 9); ValueError otherwise."""
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError("boolean is not a gender")
    if isinstance(raw, numbers.Real):
        x = float(raw)
        if not math.isfinite(x) or x != int(x):
            raise ValueError("unreadable gender code")
        raw = str(int(x))
    if not isinstance(raw, str):
        raise ValueError("unsupported type for a gender")
    result, err = _parse_text(raw)
    if err is not None:
        raise ValueError(err)
    return result
