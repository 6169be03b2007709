"""Phone numbers (``联系电话``): mainland mobiles and landlines, several to a cell.

Accepted, and written back in one form each:

* mobiles ``1[3-9]`` + 9 digits, with a ``+86`` / ``0086`` / ``86`` prefix, spaces, dashes,
  dots or brackets anywhere (``+86 139-1234-5678``) -> ``13912345678``;
* landlines with an area code: ``0`` + 2 digits (010, 020-029: 8-digit local numbers) or
  ``0`` + 3 digits (7 or 8), written ``0431-88881234``, ``(0431)88881234``, ``0431 8888 1234``,
  ``+86 431 88881234`` -> ``0431-88881234``; an extension (``转801``, ``分机801``, ``ext 801``,
  ``0431-88881234-801``) -> ``0431-88881234转801``;
* a local landline without area code (7 or 8 digits, not starting with 0 or 1) as written;
  400/800 service numbers -> ``400-123-4567``; Hong Kong, Macao and Taiwan numbers
  (``+852``, ``+853``, ``+886``) -> ``+852-12345678``;
* several numbers separated by ``，,、/;；`` or 或/和, or by spaces between whole numbers;
  labels (手机：, 电话, 座机, tel) and notes in brackets (（父亲）) or around the number (张三
  13912345678) are dropped; full-width digits are read as digits.

A number cut short (``170000``), too long, or of no known form is a ``ValueError``; a cell
with good and bad numbers keeps the good ones and lists the bad (:class:`Phones`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .cells import cached_parser, parse_cell
from .text import nfkc

_MAX_LEN = 120
_UNKNOWN = frozenset({
    "", "不详", "未知", "无", "没有", "-", "--", "—", "——", "/", "?", "??", "不清楚", "不知道", "待查",
    "未填", "暂无", "不明", "null", "none", "nan", "n/a", "na", "#n/a", "unknown", "0",
})

TOO_SHORT = "phone number too short (cut off?)"
TOO_LONG = "phone number too long"
NO_KNOWN_FORM = "not a mobile or landline number"
UNREADABLE = "unreadable phone number"

_SEPARATORS = re.compile(r"[,、/;\n]|或者|或|和|及")
_NOTE = re.compile(r"[(\[【][^)\]】]*[^\x00-\x7f][^)\]】]*[)\]】]")  # (父亲), 【本人】: bracketed words
_LABEL = re.compile(r"^(?:联系电话|联系方式|联系人|电话号码|电话|手机号码|手机号|手机|座机|固话|号码|tel|mobile|phone)\s*[:.]?\s*", re.I)
_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x)\s*(\d{1,6})$", re.I)
_WORDS = re.compile(r"^(?:[^\x00-\x7f]+[:\s]*)+|(?:[\s:]*[^\x00-\x7f]+)+$")  # names or words before/after the number
_BRACKETED_CODE = re.compile(r"^\((\+\d{2,4})\)")  # (+86)139...
_NUMBER_CHARS = re.compile(r"^\+?[\d\s\-().]+$")
_GROUPS = re.compile(r"[\s\-().]+")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_ABROAD = {"852": (8,), "853": (8,), "886": (8, 9)}  # Hong Kong, Macao, Taiwan: local digits


@dataclass(frozen=True)
class Phones:
    """The numbers of one cell, in their written-back form, and the parts that were not numbers."""

    numbers: tuple[str, ...]
    invalid: tuple[tuple[str, str], ...] = ()  # (part as written, reason code)


def _landline(area: str, local: str, extension: str | None) -> str:
    if not local or local[0] in "01":
        raise ValueError(NO_KNOWN_FORM)
    lengths = (8,) if len(area) == 3 else (7, 8)
    if len(local) < min(lengths):
        raise ValueError(TOO_SHORT)
    if len(local) > max(lengths):
        raise ValueError(TOO_LONG)
    return f"{area}-{local}" + (f"转{extension}" if extension else "")


def _national(digits: str, groups: list[str], extension: str | None) -> str:
    """A number without country code: mobile, landline, service or local number."""
    if digits.startswith("1"):
        if extension is None and _MOBILE.fullmatch(digits):
            return digits
        if len(digits) != 11:
            raise ValueError(TOO_SHORT if len(digits) < 11 else TOO_LONG)
        raise ValueError(NO_KNOWN_FORM)  # 12x, 10x: no mobile prefix
    if digits.startswith("0"):
        if len(groups) >= 2 and re.fullmatch(r"0\d{2,3}", groups[0]):  # area code written apart
            rest = groups[1:]
            if len(rest) >= 2 and extension is None and len("".join(rest[:-1])) in (7, 8) and len(rest[-1]) <= 6:
                return _landline(groups[0], "".join(rest[:-1]), rest[-1])  # 0431-88881234-801
            return _landline(groups[0], "".join(rest), extension)
        if len(digits) < 3:
            raise ValueError(TOO_SHORT)
        area_len = 3 if digits[1] in "12" else 4
        return _landline(digits[:area_len], digits[area_len:], extension)
    if len(digits) == 10 and digits[:3] in ("400", "800"):
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if len(digits) in (7, 8):
        return digits + (f"转{extension}" if extension else "")
    raise ValueError(TOO_SHORT if len(digits) < 7 else NO_KNOWN_FORM)


def _one(part: str, extension: str | None) -> str:
    """One number as written (digits, +, spaces, dashes, brackets) -> its written-back form."""
    international = part.startswith("+")
    groups = [g for g in _GROUPS.split(part.lstrip("+")) if g]
    digits = "".join(groups)
    if not digits:
        raise ValueError(UNREADABLE)
    if digits.startswith("00"):
        international, digits = True, digits[2:]
        groups[0] = groups[0][2:]
    if international or (digits.startswith("86") and len(digits) == 13 and digits[2] == "1"):
        for code, lengths in _ABROAD.items():
            if international and digits.startswith(code):
                local = digits[len(code):]
                if len(local) not in lengths:
                    raise ValueError(TOO_SHORT if len(local) < min(lengths) else TOO_LONG)
                return f"+{code}-{local}"
        if not digits.startswith("86"):
            raise ValueError(NO_KNOWN_FORM)
        digits = digits[2:]
        groups = [g for g in ([groups[0][2:]] + groups[1:]) if g]
        if digits.startswith("0"):
            digits = digits[1:]  # +86 (0)431 ...
            groups = [g for g in ([groups[0].lstrip("0")] + groups[1:]) if g] if groups else groups
        if not digits:
            raise ValueError(TOO_SHORT)
        if not digits.startswith("1") or (groups and groups[0] == "10"):  # +86 10 ...: Beijing
            area_len = 2 if digits[0] in "12" else 3
            if groups and re.fullmatch(r"\d{2,3}", groups[0]):
                area_len = len(groups[0])
            return _landline("0" + digits[:area_len], digits[area_len:], extension)
    return _national(digits, groups, extension)


def _numbers(part: str) -> tuple[str, ...]:
    """The number(s) in one separated part of a cell."""
    part = _LABEL.sub("", _NOTE.sub(" ", part).strip())
    extension = None
    if m := _EXTENSION.search(part):
        extension, part = m.group(1), part[:m.start()]
    part = _WORDS.sub("", part.strip()).strip()
    part = _BRACKETED_CODE.sub(r"\1 ", part)
    if not part or not _NUMBER_CHARS.match(part):
        raise ValueError(UNREADABLE)
    try:
        return (_one(part, extension),)
    except ValueError:
        chunks = part.split()
        if len(chunks) < 2 or extension is not None:
            raise
        try:  # whole numbers side by side: 13912345678 13887654321
            return tuple(_one(c, None) for c in chunks)
        except ValueError:
            pass
        raise


def _parse_core(raw: str) -> Phones | None:
    s = nfkc(raw).strip()
    if s.lower() in _UNKNOWN:
        return None
    if len(s) > _MAX_LEN:
        raise ValueError("too long for a phone number")
    numbers: list[str] = []
    invalid: list[tuple[str, str]] = []
    for part in _SEPARATORS.split(s):
        if not part.strip() or part.strip().lower() in _UNKNOWN:
            continue
        try:
            numbers.extend(n for n in _numbers(part) if n not in numbers)
        except ValueError as error:
            invalid.append((part.strip(), str(error)))
    if not numbers:
        if invalid:
            raise ValueError(invalid[0][1])
        return None
    return Phones(tuple(numbers), tuple(invalid))


def _from_number(x: float) -> Phones | None:
    """A number cell (XLSX): its digits, as if typed."""
    if not math.isfinite(x) or x != int(x):
        raise ValueError(UNREADABLE)
    result, error = _parse_text(str(int(x)))
    if error is not None:
        raise ValueError(error)
    return result


def parse_phones(raw: object) -> Phones | None:
    """Phone cell -> Phones; None when empty/unknown; ValueError when it holds no valid number."""
    return parse_cell(raw, _parse_text, "a phone number", number=_from_number)


_parse_text = cached_parser(_parse_core, maxsize=1 << 16)
