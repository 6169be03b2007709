"""What every field parser shares: which cell values count as missing, caching its failures,
and the skeleton that sends a cell to the right reading (:func:`parse_cell`)."""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Any, Callable, TypeVar

import numpy as np

T = TypeVar("T")


def is_missing(raw: object) -> bool:
    """None, NaN, pandas NA/NaT and numpy NaT: a cell with nothing in it."""
    if raw is None:
        return True
    if isinstance(raw, numbers.Real) and not isinstance(raw, numbers.Integral):
        return math.isnan(raw)
    if isinstance(raw, np.datetime64):
        return bool(np.isnat(raw))
    return type(raw).__name__ in ("NAType", "NaTType")


def cached_parser(core: Callable[[str], T], maxsize: int) -> Callable[[str], tuple[T | None, str | None]]:
    """Cache ``core`` per text, failures included: values repeat across hundreds of thousands
    of rows, bad ones too. Returns (result, None) or (None, reason)."""

    @lru_cache(maxsize=maxsize)
    def parse(text: str) -> tuple[T | None, str | None]:
        try:
            return core(text), None
        except ValueError as error:
            return None, str(error)

    return parse


def parse_cell(
    raw: object,
    text: Callable[[str], tuple[T | None, str | None]],
    what: str,
    number: Callable[[Any], T | None] | None = None,
) -> T | None:
    """One cell through a field parser: text through ``text`` (a :func:`cached_parser`),
    numbers (XLSX cells) through ``number``; None for a missing cell; ValueError(reason) when
    unreadable, and for booleans and other types (``what`` names the field: 'a height')."""
    if type(raw) is str:  # the usual cell first: none of the checks below applies
        result, error = text(raw)
    elif is_missing(raw):
        return None
    elif isinstance(raw, bool):
        raise ValueError(f"boolean is not {what}")
    elif isinstance(raw, str):
        result, error = text(str(raw))
    elif number is not None and isinstance(raw, numbers.Real):
        return number(raw)
    else:
        raise ValueError(f"unsupported type for {what}")
    if error is not None:
        raise ValueError(error)
    return result
