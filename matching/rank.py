"""Top-K ranking per station record, a person reported twice taking one slot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .duplicates import duplicate_groups, duplicate_text
from .features import Prepared


@dataclass(frozen=True)
class Ranked:
    pair_index: np.ndarray  # positions into the scored pairs, ranked rows only
    rank: np.ndarray
    duplicates: np.ndarray  # object: '|'-joined other report ids of the same person


def top_groups(i: np.ndarray, j: np.ndarray, total: np.ndarray, groups: np.ndarray, top_k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(positions, rank) of each station record's best ``top_k`` pairs, a person reported twice
    taking one slot: the best pair of each duplicate group (``groups`` per pair), best score
    first, equal scores by report row. Taking the top of each report shard first and then
    the top of their union gives the same pairs (a group in the overall top is in its shard's)."""
    order = np.lexsort((j, -total, i))
    first = ~pd.DataFrame({"i": i[order], "g": groups[order]}).duplicated().to_numpy()
    kept = order[first]
    rank_in_station = pd.Series(i[kept]).groupby(i[kept]).cumcount().to_numpy() + 1
    top = rank_in_station <= top_k
    return kept[top], rank_in_station[top]


def rank(
    prepared: Prepared, i: np.ndarray, j: np.ndarray, total: np.ndarray, top_k: int
) -> Ranked:
    """Best first per station record; a person reported twice takes one slot, not two."""
    groups = duplicate_groups(prepared)
    kept, ranks = top_groups(i, j, total, groups[j], top_k)
    ids = prepared.reports.ids
    return Ranked(kept, ranks, duplicate_text(groups[j[kept]], j[kept], groups, lambda rows: ids[rows]))
