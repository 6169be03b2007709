"""What every field parser shares: which cell values count as missing, and caching its failures."""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Callable, TypeVar

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
