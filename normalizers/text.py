"""Basic text cleaning shared by the name (and other) normalizers.

All functions are pure and cached: the same short strings repeat across hundreds of
thousands of rows, so a per-string cache is cheaper than vectorizing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

__all__ = ["clean_text", "simplify_test", "to_simplified", "han_only", "is_han", "nfkc"]

_WS_RE = re.compile(r"\s+")

# CJK unified ideographs: URO, Ext A, Ext B-F, Ext G/H. Compatibility ideographs are
# folded to unified ones by NFKC before we get here.
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2EBEF),
    (0x30000, 0x323AF),
)
_NON_HAN_RE = re.compile(
    "[^\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef\U00030000-\U000323af]+"
)

# Full-width punctuation common in Chinese text, each with its NFKD (so NFKC of the text is
# unchanged by the swap): once swapped, text is mostly NFKC already and the full normalization,
# slow on CJK text, is skipped.
_WIDE_PUNCT = (("，", ","), ("：", ":"), ("；", ";"), ("！", "!"), ("？", "?"), ("（", "("), ("）", ")"),
               ("\u3000", " "))

# Characters that are standard in simplified Chinese too but OpenCC's t2s turns into
# something else when they stand alone (乾 qián -> 干 gān would corrupt names like 李乾).
_KEEP_AS_IS = frozenset("乾")


def nfkc(s: str) -> str:
    """``unicodedata.normalize("NFKC", s)``, quicker when full-width punctuation is all that
    needs normalizing."""
    if unicodedata.is_normalized("NFKC", s):
        return s
    for wide, narrow in _WIDE_PUNCT:
        s = s.replace(wide, narrow)
    return s if unicodedata.is_normalized("NFKC", s) else unicodedata.normalize("NFKC", s)


@lru_cache(maxsize=1 << 16)
def clean_text(s: str | None) -> str:
    """NFKC-normalize, strip and collapse every whitespace run to one ASCII space.

    NFKC turns full-width letters, digits, punctuation and the ideographic space
    (U+3000) into their ordinary forms. ``None`` gives ''.
    """
    if s is None:
        return ""
    s = nfkc(str(s))
    return _WS_RE.sub(" ", s).strip()


@cache
def _t2s():
    # Imported lazily: building the converter loads dictionaries (nothing on import).
    from opencc import OpenCC

    return OpenCC("t2s")


@cache
def _changing_chars() -> frozenset[str] | None:
    """Every character some t2s entry changes: text holding none of them comes out as it went
    in, so most (already simplified) text skips the pure-Python converter. None when the
    library's tables are not where this version keeps them (then every text is converted)."""
    converter = _t2s()
    converter.convert("")  # loads the tables
    chars: set[str] = set()
    try:
        for group in converter._dict_chain_data:  # opencc-python-reimplemented 0.1.x internals
            for entry in group:
                for key, value in entry[-1].items():
                    for candidate in value.split(" "):  # several candidates: '干 乾'
                        if len(candidate) == len(key):
                            chars.update(k for k, v in zip(key, candidate) if k != v)
                        else:  # lengths differ: any character of the key may change
                            chars.update(key)
    except (AttributeError, TypeError, IndexError, KeyError):
        return None
    return frozenset(chars) if chars else None


def simplify_test(text: str) -> Callable[[str], bool]:
    """A test for parts of ``text`` (many values joined): False when :func:`to_simplified`
    gives the part back for certain, since it holds no character t2s changes. A pattern of
    only the changing characters ``text`` holds: one of all of them is scanned range by range,
    slower than the converter's own check."""
    changing = _changing_chars()
    if changing is None:
        return lambda part: True
    present = changing.intersection(text)
    if not present:
        return lambda part: False
    search = re.compile("[" + "".join(re.escape(ch) for ch in sorted(present)) + "]").search
    return lambda part: search(part) is not None


@lru_cache(maxsize=1 << 16)
def to_simplified(s: str | None) -> str:
    """Traditional -> simplified Chinese (OpenCC t2s); other characters pass through."""
    if not s:
        return ""
    changing = _changing_chars()
    if changing is not None and changing.isdisjoint(s):
        return s
    conv = _t2s().convert
    if not any(ch in _KEEP_AS_IS for ch in s):
        return conv(s)
    # Convert around the protected characters so they survive unchanged.
    out: list[str] = []
    buf: list[str] = []
    for ch in s:
        if ch in _KEEP_AS_IS:
            if buf:
                out.append(conv("".join(buf)))
                buf = []
            out.append(ch)
        else:
            buf.append(ch)
    if buf:
        out.append(conv("".join(buf)))
    return "".join(out)


def is_han(ch: str) -> bool:
    """True if the single character is a CJK ideograph."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _HAN_RANGES)


@lru_cache(maxsize=1 << 16)
def han_only(s: str | None) -> str:
    """Keep only CJK ideographs (drops letters, digits, punctuation, spaces, emoji)."""
    if not s:
        return ""
    return _NON_HAN_RE.sub("", s)
