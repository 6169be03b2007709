"""Scoring: each pair's match weight per comparison (with the term-frequency adjustment) and
their sum, log2 odds comparable across station records."""

from __future__ import annotations

import numpy as np

from .features import Prepared
from .model import M_FLOOR, Model


def pair_weights(model: Model, prepared: Prepared, levels: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Contribution of every comparison to every pair, in bits (float32: pairs x comparisons).

    A level with ``tf`` set is weighed against how common the station's value is among reports:
    agreeing on 王秀英 counts less than agreeing on a rare name.
    """
    tables = model.weight_table()
    weights = np.empty(levels.shape, dtype=np.float32)
    floor = prepared.tf_floor
    for c, comparison in enumerate(model.settings.comparisons):
        weights[:, c] = tables[c][levels[:, c]]
        for k, level in enumerate(comparison.levels):
            if level.tf is None:
                continue
            at = np.flatnonzero(levels[:, c] == k)
            codes = prepared.stations.values[level.tf][i[at]]
            frequency = np.where(codes >= 0, prepared.name_frequency[np.maximum(codes, 0)], 0.0)
            m = max(model.m[comparison.name][k], M_FLOOR)
            weights[at, c] = np.log2(m / np.maximum(frequency, floor))
    return weights


def score(model: Model, prepared: Prepared, levels: np.ndarray, i: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """Prior plus every contribution: log2 odds, comparable across station records."""
    total = np.empty(len(levels), dtype=np.float64)
    for start in range(0, len(levels), chunk):
        stop = start + chunk
        weights = pair_weights(model, prepared, levels[start:stop], i[start:stop])
        total[start:stop] = weights.sum(axis=1, dtype=np.float64) + model.prior_weight
    return total
