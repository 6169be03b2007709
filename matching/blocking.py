"""Blocking: the union of several passes, each a join on a composite key declared in settings.

Each pass is a recordlinkage custom index algorithm (:class:`KeyPassIndex`), so it can be used
through ``recordlinkage.Index``; the matcher itself takes the passes' pair codes
(``station_row * n_reports + report_row``) and unions them with numpy, because unioning
pandas MultiIndexes of tens of millions of pairs costs more than the rest of the blocking.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from .codes import unique_ints
from .features import Prepared, Side
from .settings import BlockingPass, Settings


@dataclass(frozen=True)
class PassStats:
    name: str
    pairs: int
    skipped_keys: int  # key values over max_reports_per_key
    skipped_station_rows: int  # station rows that lost at least one key value to the cap


@dataclass(frozen=True)
class Blocked:
    station_rows: np.ndarray  # int64
    report_rows: np.ndarray  # int64
    passes: tuple[PassStats, ...]
    pass_codes: dict[str, np.ndarray]  # per pass, the sorted pair codes (for pair completeness)
    pairs: int | None = None  # the count, when the pairs themselves were not kept (report shards)

    @property
    def n_pairs(self) -> int:
        return len(self.station_rows) if self.pairs is None else self.pairs


def part_order(stations: Side, spec: BlockingPass) -> list:
    """The key parts with the fewest values per station record first: the composite key is the
    same in any order, and the exploded arrays stay short until the last part. Ordered by the
    station side, which every report shard holds whole, so that every shard numbers the station
    records' composite keys alike (see :func:`station_key_reports`)."""
    return sorted(spec.keys, key=lambda p: len(stations.multi[p.station].codes) / max(stations.n, 1))


def _exploded_keys(
    stations: Side,
    reports: Side,
    spec: BlockingPass,
    station_focus: np.ndarray | None = None,
    report_focus: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, key) for both sides, with composite keys factorized jointly so they stay small.

    With a focus, rows whose key no focused row holds are dropped after each key part: they
    can neither pair with a focused row nor change the count of a key that matters.
    """
    s_rows = np.arange(stations.n, dtype=np.int64)
    if spec.station_kinds:
        s_rows = s_rows[np.isin(stations.values["name_kind"], spec.station_kinds)]
    r_rows = np.arange(reports.n, dtype=np.int64)
    s_key = np.zeros(len(s_rows), dtype=np.int64)
    r_key = np.zeros(len(r_rows), dtype=np.int64)
    focused = station_focus is not None or report_focus is not None
    parts = part_order(stations, spec)
    for number, part in enumerate(parts):
        s_owner, s_codes = stations.multi[part.station].gather(s_rows)
        if number == 0:  # every report: its values as stored, no gathering
            field = reports.multi[part.report]
            r_owner, r_codes = field.rows_of_values(), field.codes
        else:
            r_owner, r_codes = reports.multi[part.report].gather(r_rows)
        s_rows, r_rows = s_rows[s_owner], r_rows[r_owner]
        span = np.int64(max(int(s_codes.max(initial=0)), int(r_codes.max(initial=0))) + 1)
        if number == 0:  # one part: the vocabulary codes are the keys
            s_key, r_key, n_keys = s_codes, r_codes, int(span)
        else:
            combined = np.concatenate([s_key[s_owner] * span + s_codes, r_key[r_owner] * span + r_codes])
            # hashing, not sorting: np.unique's argsort was most of the blocking time
            inverse, uniques = pd.factorize(combined, sort=False)
            inverse = inverse.astype(np.int64, copy=False)
            s_key, r_key, n_keys = inverse[: len(s_rows)], inverse[len(s_rows):], len(uniques)
        if focused:
            wanted = np.zeros(n_keys, dtype=bool)
            if station_focus is not None:
                wanted[s_key[station_focus[s_rows]]] = True
            if report_focus is not None:
                wanted[r_key[report_focus[r_rows]]] = True
            s_keep, r_keep = wanted[s_key], wanted[r_key]
            s_rows, s_key, r_rows, r_key = s_rows[s_keep], s_key[s_keep], r_rows[r_keep], r_key[r_keep]
    return s_rows, s_key, r_rows, r_key


def _join(
    rows: np.ndarray, keys: np.ndarray, other_rows: np.ndarray, other_starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, other row) sharing a key; ``other_rows`` sorted by key, ``other_starts`` its
    offsets per key."""
    starts = other_starts[keys]
    counts = other_starts[keys + 1] - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows[owner], other_rows[np.repeat(starts, counts) + offsets]


def _offsets(sorted_keys: np.ndarray, n_keys: int) -> np.ndarray:
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_keys, minlength=n_keys), out=starts[1:])
    return starts


def pass_pair_codes(
    stations: Side,
    reports: Side,
    spec: BlockingPass,
    station_focus: np.ndarray | None = None,
    report_focus: np.ndarray | None = None,
    key_reports: np.ndarray | None = None,
) -> tuple[np.ndarray, PassStats]:
    """Pair codes of one pass. With a focus (bool per row on either side), only pairs holding a
    focused station record or a focused report; the per-key cap still counts every report, so a
    focused run offers exactly the pairs of the full run that touch the focus. ``key_reports``
    (from :func:`station_key_reports` summed over report shards) replaces the per-key counts
    of these reports by those of the whole list."""
    s_rows, s_key, r_rows, r_key = _exploded_keys(stations, reports, spec, station_focus, report_focus)
    n_keys = int(max(s_key.max(initial=-1), r_key.max(initial=-1))) + 1
    focused = station_focus is not None or report_focus is not None
    if not focused:  # sorted by key (then row) for the join below
        r_sorted = unique_ints(r_key * np.int64(reports.n) + r_rows)
        r_key, r_rows = r_sorted // reports.n, r_sorted % reports.n
    # (row, key) pairs are distinct (a field holds a code once per row), so a count per key
    # is the number of reports holding it
    per_key = np.bincount(r_key, minlength=n_keys)
    if key_reports is not None:
        # the counts of every report shard: only the keys station records hold are known, and
        # only those can make pairs
        if focused:
            raise ValueError("report counts of all shards apply to a run without a focus")
        per_key[: len(key_reports)] = key_reports[: n_keys]
        per_key[len(key_reports):] = 0
    over = per_key > spec.max_reports_per_key
    s_over = over[s_key] if len(s_key) else np.zeros(0, dtype=bool)
    skipped_station_rows = len(np.unique(s_rows[s_over]))
    s_key_all = s_key
    s_rows, s_key = s_rows[~s_over], s_key[~s_over]
    n = np.int64(reports.n)
    if not focused:
        pair_s, pair_r = _join(s_rows, s_key, r_rows, _offsets(r_key, n_keys))
        codes = unique_ints(pair_s * n + pair_r)
    else:
        parts = []
        if station_focus is not None:
            mine = station_focus[s_rows]
            wanted = np.zeros(n_keys, dtype=bool)
            wanted[s_key[mine]] = True  # only the reports under a focused station's keys get sorted
            held = wanted[r_key]
            order = np.argsort(r_key[held], kind="stable")
            pair_s, pair_r = _join(s_rows[mine], s_key[mine], r_rows[held][order], _offsets(r_key[held][order], n_keys))
            parts.append(pair_s * n + pair_r)
        if report_focus is not None:
            mine = report_focus[r_rows] & ~over[r_key]
            by_key = np.argsort(s_key, kind="stable")
            pair_r, pair_s = _join(r_rows[mine], r_key[mine], s_rows[by_key], _offsets(s_key[by_key], n_keys))
            parts.append(pair_s * n + pair_r)
        codes = unique_ints(np.concatenate(parts))
    skipped = int(over[np.unique(s_key_all)].sum()) if key_reports is not None else int(over.sum())
    stats = PassStats(spec.name, len(codes), skipped, skipped_station_rows)
    return codes, stats


def station_keys(stations: Side, reports: Side, spec: BlockingPass) -> tuple[np.ndarray, np.ndarray]:
    """(station row, station key number) of every key the station records hold in this pass
    (numbered as :func:`station_key_reports` numbers them)."""
    s_rows, s_key, _, _ = _exploded_keys(stations, reports, spec)
    return s_rows, s_key


def station_key_reports(stations: Side, reports: Side, spec: BlockingPass) -> np.ndarray:
    """Reports holding each composite key of the station records (indexed by the station
    side's key number, the same in every report shard: the vocabulary numbers the station
    side first and the parts go in :func:`part_order`). Summed over shards, the counts behind
    ``max_reports_per_key``."""
    s_rows, s_key, r_rows, r_key = _exploded_keys(stations, reports, spec)
    n_station_keys = int(s_key.max(initial=-1)) + 1
    held = r_key < n_station_keys
    distinct = unique_ints(r_key[held] * np.int64(max(reports.n, 1)) + r_rows[held])
    return np.bincount(distinct // max(reports.n, 1), minlength=n_station_keys)


@cache
def _key_pass_index_class() -> type:
    """KeyPassIndex, defined on first use: recordlinkage imports scikit-learn and SciPy's
    statistics (1.5-3 s), which a night that only calls :func:`index` never needs."""
    from recordlinkage.base import BaseIndexAlgorithm

    class KeyPassIndex(BaseIndexAlgorithm):
        """A blocking pass as a recordlinkage index algorithm over prepared sides.

        ``df_a``/``df_b`` handed to ``index`` must be the normalized tables the sides were
        prepared from (same row order); the pairs carry their index labels.
        """

        def __init__(self, spec: BlockingPass, prepared: Prepared) -> None:
            super().__init__(verify_integrity=True)
            self.spec = spec
            self.prepared = prepared

        def pair_codes(self) -> tuple[np.ndarray, PassStats]:
            return pass_pair_codes(self.prepared.stations, self.prepared.reports, self.spec)

        def _link_index(self, df_a: pd.DataFrame, df_b: pd.DataFrame) -> pd.MultiIndex:
            codes, _ = self.pair_codes()
            n_reports = self.prepared.reports.n
            return pd.MultiIndex.from_arrays(
                [df_a.index[codes // n_reports], df_b.index[codes % n_reports]],
                names=self._make_index_names(df_a.index.name, df_b.index.name),
            )

    KeyPassIndex.__module__, KeyPassIndex.__qualname__ = __name__, "KeyPassIndex"
    return KeyPassIndex


def __getattr__(name: str) -> Any:
    if name == "KeyPassIndex":
        return _key_pass_index_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def index(
    prepared: Prepared,
    settings: Settings,
    station_focus: np.ndarray | None = None,
    report_focus: np.ndarray | None = None,
    workers: int = 2,
    key_reports: dict[str, np.ndarray] | None = None,
) -> Blocked:
    """Every pass, then their union (only pairs touching the focus when one is given).

    Passes run on ``workers`` threads: their sorts, joins and hashing release the GIL.
    ``key_reports`` (per pass, see :func:`station_key_reports`) caps the keys by the counts of
    every report shard, not only these reports.
    """

    def one(spec: BlockingPass) -> tuple[np.ndarray, PassStats]:
        return pass_pair_codes(prepared.stations, prepared.reports, spec, station_focus, report_focus,
                               None if key_reports is None else key_reports[spec.name])

    if workers > 1 and len(settings.blocking) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, settings.blocking))
    else:
        results = [one(spec) for spec in settings.blocking]
    pass_codes = {spec.name: codes for spec, (codes, _) in zip(settings.blocking, results)}
    stats = [pass_stats for _, pass_stats in results]
    union = unique_ints(np.concatenate(list(pass_codes.values()))) if pass_codes else np.zeros(0, np.int64)
    n_reports = np.int64(prepared.reports.n)
    return Blocked(union // n_reports, union % n_reports, tuple(stats), pass_codes)
