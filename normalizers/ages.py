"""Ages: staff estimates (``估计年龄``) as ranges, report ages (``走失时年龄``) as whole years.

Rule for estimates (documented because the matcher's age score depends on it):

* a bare age ``N`` (also ``约N岁``, ``N岁左右``, ``N来岁``, ``N上下``) is an estimate:
  ``N ± 3`` years, or ``N ± 1`` for children under 12; ``虚岁`` (nominal age) is ``N - 1`` first;
* ``N多岁`` / ``N几岁`` / ``N余岁`` with a round ``N`` (60多) means 61..69: ``(N + 0.5, N + 9)``;
  with a non-round ``N`` (65多) it means "a bit over": ``(N, N + 1)``;
* ``N出头`` -> ``(N + 0.5, N + 3)``; ``N以上``/``开外`` -> ``(N, N + 10)``; ``N以下``/``不到N`` ->
  ``(N - 10, N)``;
* ranges ``A-B``, ``A~B``, ``A至B``, ``A到B`` -> ``(A - 1, B + 1)``; ``五六十岁`` -> ``(50, 69)``;
  ``七八岁`` / ``三十五六岁`` -> adjacent-digit range widened by 1;
* ``八旬`` -> ``(80, 89)``; ``N个月`` (infants) -> ``N ± 2`` months;
* words: 婴儿 (0, 2), 幼儿 (1, 6), 儿童/小孩 (3, 14), 少年 (12, 18), 青年 (18, 40),
  青壮年 (18, 45), 中年 (40, 60), 中老年 (45, 75), 老年/老人 (60, 90), 成年 (18, 90);
* every range is clipped to 0..120; a stated age above 120 or below 0 is a ``ValueError``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .cells import cached_parser, parse_cell

MAX_AGE = 120
_MAX_LEN = 40

_UNKNOWN = frozenset({
    "", "不详", "未知", "无", "-", "--", "—", "——", "/", "?", "??", "不清楚", "不知道", "待查",
    "未填", "暂无", "不明", "null", "none", "nan", "n/a", "na", "#n/a", "unknown",
})


_WORDS: dict[str, tuple[float, float]] = {
    "婴儿": (0, 2), "婴幼儿": (0, 3), "幼儿": (1, 6),
    "儿童": (3, 14), "小孩": (3, 14), "孩子": (3, 14), "孩童": (3, 14), "小孩子": (3, 14),
    "少年": (12, 18), "青少年": (12, 25),
    "青年": (18, 40), "青年人": (18, 40), "年轻人": (18, 40), "青壮年": (18, 45),
    "中年": (40, 60), "中年人": (40, 60), "中老年": (45, 75), "中老年人": (45, 75),
    "老年": (60, 90), "老年人": (60, 90), "老人": (60, 90),
    "成年": (18, 90), "成年人": (18, 90),
}

_NUM = r"(\d+(?:\.\d+)?|[〇零一二两三四五六七八九十百]+)"
_HEDGE_PRE = re.compile(r"^(?:约|大约|大概|估计|估|年约|年龄约|年龄|疑似|看似|看上去|外观)+")
_HEDGE_POST = re.compile(r"(?:左右|上下|的样子|样子)$")
_SINGLE = re.compile(
    rf"^(?P<pre>不到|不足|年过|年逾|虚岁|周岁)?{_NUM}(?P<mod>多|几|余|来)?"
    r"(?P<unit>周岁|虚岁|岁半|岁)?(?P<post>以上|以下|出头|开外|不到)?(?:的人|老人)?$"
)
_RANGE = re.compile(rf"^{_NUM}(?:周岁|岁)?(?:-|~|至|到|—|–|－)+{_NUM}(?:周岁|岁)?$")
_MONTHS = re.compile(rf"^{_NUM}个?月(?:大)?$")
_XUN = re.compile(r"^(?:年过|年逾)?([一二三四五六七八九])旬(?:老人)?$")
# 五六十岁 (50s-60s); 七八岁 / 三十五六岁 (adjacent digits).
_CN_DECADES = re.compile(r"^([一二三四五六七八九])([一二三四五六七八九])十(?:多)?岁?$")
_CN_ADJ = re.compile(r"^(?:([一二三四五六七八九]?十))?([一二三四五六七八九])([一二三四五六七八九])岁$")
_DECADE_BORN = re.compile(r"^\d0后$")


@dataclass(frozen=True)
class AgeRange:
    """Inclusive age range in years."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (0 <= self.low <= self.high <= MAX_AGE):
            raise ValueError("age range out of order or out of 0..120")

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2

    def contains(self, age: float) -> bool:
        return self.low <= age <= self.high


_NUMERAL_CHARS = frozenset("〇零一二两三四五六七八九十百千")


@lru_cache(maxsize=1 << 10)
def chinese_int(s: str) -> int:
    """Chinese numeral to int (cn2an): 六十五 -> 65, 一百零二 -> 102, 二〇二三 -> 2023 (digit by
    digit), 百 -> 100; ValueError when ``s`` is not a numeral."""
    if not s:
        raise ValueError("empty numeral")
    if not _NUMERAL_CHARS.issuperset(s):
        raise ValueError("not a Chinese numeral")
    import cn2an  # imported when first needed: it takes a few tenths of a second to load

    try:
        # "normal" reads digit-by-digit years (二〇二三) and 两; a bare 百 (百岁) is one hundred
        value = cn2an.cn2an("一" + s if s[0] in "百千" else s, "normal")
    except ValueError:
        raise ValueError("not a Chinese numeral") from None
    return int(value)


def _num(tok: str) -> float:
    return float(tok) if tok[0].isdigit() else float(chinese_int(tok))


def _clip(low: float, high: float) -> AgeRange:
    return AgeRange(max(0.0, float(low)), min(float(MAX_AGE), float(high)))


def _check(n: float) -> float:
    if n < 0:
        raise ValueError("negative age")
    if n > MAX_AGE:
        raise ValueError("implausible age (>120)")
    return n


def _estimate(n: float) -> AgeRange:
    _check(n)
    w = 1 if n < 12 else 3
    return _clip(n - w, n + w)


def _clean(raw: str) -> str:
    s = unicodedata.normalize("NFKC", raw)
    return re.sub(r"\s+", "", s).lower()


def _parse_core(s: str) -> AgeRange | None:
    if s in _UNKNOWN:
        return None
    if len(s) > _MAX_LEN:
        raise ValueError("too long for an age")
    if s in _WORDS:
        return AgeRange(*map(float, _WORDS[s]))
    if s.startswith("-") and s[1:2].isdigit():
        raise ValueError("negative age")
    if _DECADE_BORN.match(s):
        raise ValueError("birth-decade form (e.g. 50后) needs a reference date")
    core = _HEDGE_POST.sub("", _HEDGE_PRE.sub("", s))
    if core in _UNKNOWN:
        return None
    if core in _WORDS:
        return AgeRange(*map(float, _WORDS[core]))
    if m := _XUN.match(core):
        d = chinese_int(m.group(1)) * 10
        return _clip(d, d + 9)
    if m := _CN_DECADES.match(core):
        a, b = chinese_int(m.group(1)), chinese_int(m.group(2))
        if b != a + 1:
            raise ValueError("unreadable age range")
        return _clip(a * 10, b * 10 + 9)
    if m := _CN_ADJ.match(core):
        base = chinese_int(m.group(1)) if m.group(1) else 0
        a, b = chinese_int(m.group(2)), chinese_int(m.group(3))
        if b != a + 1:
            raise ValueError("unreadable age range")
        return _clip(base + a - 1, base + b + 1)
    if m := _MONTHS.match(core):
        months = _num(m.group(1))
        if months > 36:
            raise ValueError("too many months for an infant age")
        return _clip((months - 2) / 12, (months + 2) / 12)
    if m := _RANGE.match(core):
        a, b = _check(_num(m.group(1))), _check(_num(m.group(2)))
        if a > b:
            raise ValueError("age range reversed")
        return _clip(a - 1, b + 1)
    if m := _SINGLE.match(core):
        n = _check(_num(m.group(2)))
        pre, mod, unit, post = m.group("pre"), m.group("mod"), m.group("unit"), m.group("post")
        if unit == "虚岁" or pre == "虚岁":
            n = max(0.0, n - 1)  # nominal age counts the birth year as 1
        if unit == "岁半":
            n += 0.5
        if pre in ("不到", "不足") or post in ("以下", "不到"):
            return _clip(n - 10, n)
        if pre in ("年过", "年逾") or post in ("以上", "开外"):
            return _clip(n, n + 10)
        if post == "出头":
            return _clip(n + 0.5, n + 3)
        if mod in ("多", "几", "余"):
            if n >= 10 and n % 10 == 0:
                return _clip(n + 0.5, n + 9)
            return _clip(n, n + 1)
        return _estimate(n)
    raise ValueError("unreadable age")


def parse_age(raw: object) -> AgeRange | None:
    """Staff age estimate -> AgeRange; None when empty/unknown; ValueError when unreadable."""
    return parse_cell(raw, _parse_text, "an age", number=lambda n: _estimate(float(n)))


_EXACT = re.compile(rf"^(?:约|大约)?(?P<pre>虚岁|周岁)?{_NUM}(?P<unit>周岁|虚岁|岁半|岁)?(?:左右)?$")


def _exact_core(s: str) -> int | None:
    if s in _UNKNOWN:
        return None
    if len(s) > _MAX_LEN:
        raise ValueError("too long for an age")
    if s.startswith("-") and s[1:2].isdigit():
        raise ValueError("negative age")
    if m := _MONTHS.match(s):
        months = _num(m.group(1))
        if months >= 12 * MAX_AGE:
            raise ValueError("implausible age (>120)")
        return int(months // 12)
    m = _EXACT.match(s)
    if not m:
        raise ValueError("not a single whole age")
    n = _check(_num(m.group(2)))
    if "虚岁" in (m.group("unit"), m.group("pre")):
        n = max(0.0, n - 1)
    if m.group("unit") == "岁半":
        return int(n)  # whole years completed
    return _whole(n)


def _whole(n: float) -> int:
    if n != int(n):
        raise ValueError("age is not a whole number")
    return int(n)


def parse_age_exact(raw: object) -> int | None:
    """Report age in whole years (12, '12岁', '十二岁', 12.0) -> int; ranges are a ValueError."""
    return parse_cell(raw, _exact_text, "an age", number=lambda n: _whole(_check(float(n))))


# Text is cleaned inside the cached parsers: the cache is keyed by the cell as written.
_parse_text = cached_parser(lambda raw: _parse_core(_clean(raw)), maxsize=1 << 14)
_exact_text = cached_parser(lambda raw: _exact_core(_clean(raw)), maxsize=1 << 12)
