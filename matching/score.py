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
    tables = _float32_tables(model)
    weights = np.empty(levels.shape, dtype=np.float32)
    for c in range(len(tables)):
        weights[:, c] = _column_weights(model, prepared, tables, c, levels[:, c], i)
    return weights


def score(model: Model, prepared: Prepared, levels: np.ndarray, i: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """Prior plus every contribution: log2 odds, comparable across station records.

    The sum of :func:`pair_weights`' rows, bit for bit, without that matrix: its columns were
    written one strided element at a time (1.6 s of ranking size M's 16.6 million pairs).
    """
    tables = _float32_tables(model)
    total = np.empty(len(levels), dtype=np.float64)
    for start in range(0, len(levels), chunk):
        stop = start + chunk
        columns = (_column_weights(model, prepared, tables, c, levels[start:stop, c], i[start:stop]).astype(np.float64)
                   for c in range(len(tables)))
        total[start:stop] = _row_sums(columns, len(tables), len(levels[start:stop]))
        total[start:stop] += model.prior_weight
    return total


def _float32_tables(model: Model) -> list[np.ndarray]:
    return [table.astype(np.float32) for table in model.weight_table()]


def _column_weights(model: Model, prepared: Prepared, tables: list[np.ndarray], c: int, levels: np.ndarray,
                    i: np.ndarray) -> np.ndarray:
    """One comparison's weights of the pairs (float32), term frequencies applied."""
    comparison = model.settings.comparisons[c]
    weights = tables[c][levels]
    for k, level in enumerate(comparison.levels):
        if level.tf is None:
            continue
        at = np.flatnonzero(levels == k)
        codes = prepared.stations.values[level.tf][i[at]]
        frequency = np.where(codes >= 0, prepared.name_frequency[np.maximum(codes, 0)], 0.0)
        m = max(model.m[comparison.name][k], M_FLOOR)
        weights[at] = np.log2(m / np.maximum(frequency, prepared.tf_floor))
    return weights


def _row_sums(columns, n: int, length: int) -> np.ndarray:
    """The sum of ``n`` float64 columns, added in the order numpy adds a row of ``n`` numbers
    (its pairwise sum: eight partial sums, then the rest one by one), so each total is the one
    ``matrix.sum(axis=1)`` gives, to the last bit."""
    columns = iter(columns)
    if n < 8:
        total = np.zeros(length)
        for column in columns:
            total += column
        return total
    partial = [next(columns) for _ in range(8)]
    for k in range(8, n - n % 8):
        partial[k % 8] += next(columns)
    total = (partial[0] + partial[1]) + (partial[2] + partial[3])
    total += (partial[4] + partial[5]) + (partial[6] + partial[7])
    for column in columns:
        total += column
    return total
