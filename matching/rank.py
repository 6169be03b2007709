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


SCORE_BINS = 256  # score bins of the pre-selection; any number gives the same answers


def top_groups(i: np.ndarray, j: np.ndarray, total: np.ndarray, groups: np.ndarray, top_k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(positions, rank) of each station record's best ``top_k`` pairs, a person reported twice
    taking one slot: the best pair of each duplicate group (``groups`` per pair), best score
    first, equal scores by report row. Taking the top of each report shard first and then
    the top of their union gives the same pairs (a group in the overall top is in its shard's).

    Sorting millions of pairs to keep a few per station record is most of the cost, so the
    pairs that cannot be in the top are dropped first (:func:`_contenders`)."""
    keep = _contenders(i, total, groups, top_k)
    if keep is None:
        return _top_groups_sorted(i, j, total, groups, top_k)
    kept, ranks = _top_groups_sorted(i[keep], j[keep], total[keep], groups[keep], top_k)
    return keep[kept], ranks


def _top_groups_sorted(i, j, total, groups, top_k):
    order = np.lexsort((j, -total, i))
    first = ~pd.DataFrame({"i": i[order], "g": groups[order]}).duplicated().to_numpy()
    kept = order[first]
    rank_in_station = pd.Series(i[kept]).groupby(i[kept]).cumcount().to_numpy() + 1
    top = rank_in_station <= top_k
    return kept[top], rank_in_station[top]


def _contenders(i: np.ndarray, total: np.ndarray, groups: np.ndarray, top_k: int) -> np.ndarray | None:
    """Positions of the pairs that may be in a station record's top ``top_k`` groups (None:
    all of them). Per station record, a score bin is found with at least ``top_k`` pairs at or
    above it; pairs below cannot rank when those pairs hold ``top_k`` distinct groups. Where
    duplicates make them fewer, the record asks for twice as many pairs, and so on."""
    if len(i) <= 8 * top_k or not np.isfinite(total).all():
        return None
    low, high = float(total.min()), float(total.max())
    width = (high - low) / SCORE_BINS or 1.0
    bins = np.minimum(((total - low) / width).astype(np.int64), SCORE_BINS - 1)
    stations = int(i.max()) + 1
    per_bin = np.bincount(i * SCORE_BINS + bins, minlength=stations * SCORE_BINS).reshape(stations, SCORE_BINS)
    # pairs at or above each bin, per station record
    at_or_above = np.cumsum(per_bin[:, ::-1], axis=1)[:, ::-1]
    threshold = np.zeros(stations, dtype=np.int64)  # lowest bin kept
    wanted = np.full(stations, top_k, dtype=np.int64)
    pending = np.ones(stations, dtype=bool)
    while True:
        rows = np.flatnonzero(pending)
        # the highest bin with enough pairs at or above it (bin 0 holds all of them)
        enough = at_or_above[rows] >= wanted[rows, None]
        threshold[rows] = np.where(enough[:, 0], SCORE_BINS - 1 - np.argmax(enough[:, ::-1], axis=1), 0)
        keep = np.flatnonzero(bins >= threshold[i])
        # distinct (station, group) among the kept pairs of each station record
        distinct = pd.unique(i[keep] * (int(groups.max()) + 1) + groups[keep]) // (int(groups.max()) + 1)
        groups_kept = np.bincount(distinct, minlength=stations)
        short = (groups_kept < top_k) & (threshold > 0)
        if not short.any():
            return keep
        wanted[short] *= 2
        pending = short


def rank(
    prepared: Prepared, i: np.ndarray, j: np.ndarray, total: np.ndarray, top_k: int
) -> Ranked:
    """Best first per station record; a person reported twice takes one slot, not two."""
    groups = duplicate_groups(prepared)
    kept, ranks = top_groups(i, j, total, groups[j], top_k)
    ids = prepared.reports.ids
    return Ranked(kept, ranks, duplicate_text(groups[j[kept]], j[kept], groups, lambda rows: ids[rows]))
