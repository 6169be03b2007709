"""Accent / dialect wording -> the provinces it points to (weak evidence of origin).

``dialect_provinces('河南口音') == frozenset({'410000'})``. Patterns come from ``data/dialects.csv``;
rows with no provinces (普通话, 无法交流, 聋哑) match but add nothing. Text that matches no pattern
falls back to place names inside it (唐山话 -> 河北, 商水口音 -> 河南). Unknown text gives an empty
set, never an error.
"""

from __future__ import annotations

import functools

from xunqin.normalizers import places

__all__ = ["dialect_provinces", "dialect_table"]

MAX_CHARS = 200
# Words around the dialect name that carry no place information.
_FILLER = ("方言", "口音", "话", "腔", "味", "音", "带", "有点", "一点", "说", "讲")


@functools.cache
def _province_codes() -> dict[str, str]:
    """Province full and short names -> code (河南省, 河南 -> 410000)."""
    out: dict[str, str] = {}
    for d in places._division_map().values():
        if d.level == "province":
            out[d.name] = d.code
            for short in places._short_names(d.name, "province"):
                out[short] = d.code
    return out


@functools.cache
def dialect_table() -> dict[str, frozenset[str]]:
    """pattern -> province codes, from data/dialects.csv (raises if a province name is unknown)."""
    codes = _province_codes()
    table: dict[str, frozenset[str]] = {}
    for row in places._data_rows("dialects.csv"):
        names = [p.strip() for p in (row["provinces"] or "").split("|") if p.strip()]
        missing = [n for n in names if n not in codes]
        if missing:
            raise ValueError(f"dialects.csv: unknown province {missing[0]}")
        table[places._clean(row["pattern"])] = frozenset(codes[n] for n in names)
    return table


@functools.cache
def _lengths() -> dict[str, tuple[int, ...]]:
    by_first: dict[str, set[int]] = {}
    for pat in dialect_table():
        by_first.setdefault(pat[0], set()).add(len(pat))
    return {ch: tuple(sorted(ls, reverse=True)) for ch, ls in by_first.items()}


@functools.lru_cache(maxsize=1 << 14)
def dialect_provinces(raw: str | None) -> frozenset[str]:
    """Province codes suggested by an accent description; empty when it says nothing."""
    if not isinstance(raw, str):
        return frozenset()
    text = places._clean(raw[: MAX_CHARS * 2])
    if not text:
        return frozenset()
    table, lengths = dialect_table(), _lengths()
    found: set[str] = set()
    matched = False
    i = 0
    while i < len(text):
        for length in lengths.get(text[i], ()):
            pat = text[i : i + length]
            if pat in table:
                found |= table[pat]
                matched = True
                i += length
                break
        else:
            i += 1
    if matched:
        return frozenset(found)
    # No dialect pattern: a place name in the text (温岭话, 商水口音) still points somewhere.
    rest = text
    for word in _FILLER:
        rest = rest.replace(word, "")
    place = places.parse_place(rest) if rest else None
    if place is None:
        return frozenset()
    return frozenset(d.province for d in place.candidates)
