"""Comparison: every pair gets one level per comparison (first level whose condition holds)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .predicates import PREDICATES, Context
from .features import Prepared
from .settings import Comparison, Settings

CHUNK_PAIRS = 1_000_000  # bounds the temporaries of one predicate call


# Tables per record (see Context) when the pairs outnumber the records this many times
TABLES_PER_RECORD_PAIRS = 2


def context(prepared: Prepared, pairs: int | None = None) -> Context:
    """What comparing ``pairs`` pairs of these sides works from (None: many)."""
    records = prepared.stations.n + prepared.reports.n
    return Context(prepared.stations, prepared.reports, prepared.vocab.decode_table(),
                   pairs is None or pairs >= TABLES_PER_RECORD_PAIRS * records)


def comparison_levels(ctx: Context, comparison: Comparison, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Level index per pair for one comparison; conditions run only on unclaimed pairs."""
    levels = np.full(len(i), len(comparison.levels) - 1, dtype=np.int8)
    remaining: np.ndarray | None = None  # every pair, until a level claims some
    for index, level in enumerate(comparison.levels[:-1]):
        if remaining is None:
            hit = np.asarray(PREDICATES[level.when](ctx, i, j, level.params), dtype=bool)
            levels[hit] = index
            remaining = np.flatnonzero(~hit)
            continue
        if not len(remaining):
            break
        hit = np.asarray(PREDICATES[level.when](ctx, i[remaining], j[remaining], level.params), dtype=bool)
        levels[remaining[hit]] = index
        remaining = remaining[~hit]
    return levels


def compare(
    ctx: Context,
    settings: Settings,
    i: np.ndarray,
    j: np.ndarray,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 2,
) -> np.ndarray:
    """Levels of all pairs: an int8 matrix, one column per comparison in settings order.

    Chunks run on ``workers`` threads: the numpy work inside releases the GIL.
    """
    out = np.empty((len(i), len(settings.comparisons)), dtype=np.int8)

    # a night's few hundred thousand pairs still go to every worker
    chunk = max(min(CHUNK_PAIRS, -(-len(i) // max(workers, 1))), 1)

    def run(start: int) -> int:
        stop = min(start + chunk, len(i))
        for c, comparison in enumerate(settings.comparisons):
            out[start:stop, c] = comparison_levels(ctx, comparison, i[start:stop], j[start:stop])
        return stop

    starts = range(0, len(i), chunk)
    if workers <= 1 or len(starts) <= 1:
        for start in starts:
            done = run(start)
            if progress:
                progress(done, len(i))
        return out
    with ThreadPoolExecutor(max_workers=workers) as pool:
        finished = 0
        for _ in pool.map(run, starts):
            finished += 1
            if progress:
                progress(min(finished * chunk, len(i)), len(i))
    return out
