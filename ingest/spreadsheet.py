"""Cells a spreadsheet program would run as a formula (CSV/XLSX injection), defused.

One function for every file xunqin writes for people to open in Excel or WPS (rejects.csv, the
police and review exports). A cell is a formula when it starts with ``= + - @`` (or a tab or a
line break, which spreadsheets drop before parsing), also after leading blanks, line breaks or
invisible characters (zero-width, bidi and format marks a spreadsheet ignores), and in the
full-width or small forms an input method types (＝＋－＠, ﹦﹢﹣﹫). Such a cell gets a leading
apostrophe, which every spreadsheet shows as text.
"""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_FORMULA_AFTER_BLANKS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫")
# Blanks, line and paragraph breaks, and characters with no width: zero-width space/joiners,
# word joiner, invisible operators, soft hyphen, Mongolian vowel separator, BOM, and the bidi
# marks, embeddings, overrides and isolates.
_BLANKS = (
    " \t\r\n\x0b\x0c\x85\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
    "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def defuse_formula(value: Any) -> Any:
    """``value`` with a leading apostrophe when a spreadsheet would run it as a formula; other
    values (numbers, plain text) unchanged."""
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or value.lstrip(_BLANKS).startswith(_FORMULA_AFTER_BLANKS)):
        return "'" + value
    return value
