"""Heights (``身高``) in centimetres.

Accepted: 165, 165.0 (XLSX), 165cm/CM/厘米/公分, 1.65 (a bare number below 3 is metres),
1.65米/m, 1米65, 一米六五, 一米七, 一百七十厘米, 约1.7米, 170左右, ranges 160-165 / 1.6~1.7米
(midpoint). Not handled: 尺/寸, feet and inches (ValueError). Plausible range 40..230 cm.
"""

from __future__ import annotations

import math
import re
import unicodedata

from xunqin.normalizers.ages import chinese_int

from .cells import cached_parser, parse_cell

MIN_CM, MAX_CM = 40.0, 230.0
_MAX_LEN = 40

_UNKNOWN = frozenset({
    "", "不详", "未知", "无", "-", "--", "—", "——", "/", "?", "??", "不清楚", "不知道", "待查",
    "未填", "暂无", "不明", "未测", "null", "none", "nan", "n/a", "na", "#n/a", "unknown",
})

_CN_DIGIT = "〇零一二两三四五六七八九"
_HEDGE_PRE = re.compile(r"^(?:身高|约|大约|大概|估计|估|目测)+")
_HEDGE_POST = re.compile(r"(?:左右|上下|以上|以下|多|余)$")
_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"(cm|厘米|公分|m|米|mm|毫米)?"
_SINGLE = re.compile(rf"^{_NUM}{_UNIT}$")
_RANGE = re.compile(rf"^{_NUM}{_UNIT}(?:-|~|至|到|—|–)+{_NUM}{_UNIT}$")
# 1米65 / 1米7 / 一米六五: digits after 米 are the decimal part of metres.
_M_CM = re.compile(r"^([12])米(\d{1,2})(?:厘米|公分)?$")
_CN_RUN = re.compile(rf"[{_CN_DIGIT}十百]+")
_OLD_UNITS = re.compile(r"尺|寸|ft|feet|foot|inch|'|\"")


def _to_cm(x: float, unit: str | None) -> float:
    if unit in ("m", "米"):
        return x * 100
    if unit in ("mm", "毫米"):
        return x / 10
    if unit is None and x < 3:  # bare 1.65 is metres
        return x * 100
    return x


def _checked(cm: float) -> float:
    if not math.isfinite(cm) or not MIN_CM <= cm <= MAX_CM:
        raise ValueError("implausible height (outside 40..230 cm)")
    return round(cm, 1)


def _cn_height(s: str) -> str:
    """一米六五 -> 1米65 (after 米 digit-wise), 一百七十厘米 -> 170厘米."""
    head, sep, tail = s.partition("米")
    if sep and tail and not tail.startswith(("厘", "公")):
        tail_digits = re.sub(rf"[{_CN_DIGIT}]", lambda m: str(chinese_int(m.group(0))), tail)
        s = head + sep + tail_digits
    return _CN_RUN.sub(lambda m: str(chinese_int(m.group(0))), s)


def _parse_core(raw: str) -> float | None:
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).lower()
    if s in _UNKNOWN:
        return None
    if len(s) > _MAX_LEN:
        raise ValueError("too long for a height")
    if _OLD_UNITS.search(s):
        raise ValueError("chi/feet units not supported")
    s = _HEDGE_POST.sub("", _HEDGE_PRE.sub("", s))
    s = s.replace("公尺", "米")
    if s in _UNKNOWN:
        return None
    if _CN_RUN.search(s):
        s = _cn_height(s)
    if m := _M_CM.match(s):
        return _checked(float(f"{m.group(1)}.{m.group(2)}") * 100)
    if m := _SINGLE.match(s):
        return _checked(_to_cm(float(m.group(1)), m.group(2)))
    if m := _RANGE.match(s):
        u1, u2 = m.group(2), m.group(4)
        a = _to_cm(float(m.group(1)), u1 or u2)  # 1.6-1.7米: unit written once
        b = _to_cm(float(m.group(3)), u2 or u1)
        _checked(a), _checked(b)
        if a > b:
            raise ValueError("height range reversed")
        return _checked((a + b) / 2)
    raise ValueError("unreadable height")


def parse_height(raw: object) -> float | None:
    """Height cell -> centimetres (1 decimal); None when empty/unknown; ValueError otherwise."""
    return parse_cell(raw, _parse_text, "a height", number=lambda x: _checked(_to_cm(float(x), None)))


_parse_text = cached_parser(_parse_core, maxsize=1 << 12)
