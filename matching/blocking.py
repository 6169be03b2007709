"""Blocking: the union of several passes, each a join on a composite key declared in settings.

Each pass is a recordlinkage custom index algorithm (:class:`KeyPassIndex`), so it can be used
through ``recordlinkage.Index``; the matcher itself takes the passes' pair codes
(``station_row * n_reports + report_row``) and unions them with numpy, because unioning
pandas MultiIndexes of tens of millions of pairs costs more than the rest of the blocking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from recordlinkage.base import BaseIndexAlgorithm

from .arrays import unique_ints
from .prepare import Prepared, Side
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

    @property
    def n_pairs(self) -> int:
        return len(self.station_rows)


def _exploded_keys(
    stations: Side, reports: Side, spec: BlockingPass
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, key) for both sides, with composite keys factorized jointly so they stay small."""
    s_rows = np.arange(stations.n, dtype=np.int64)
    if spec.station_kinds:
        s_rows = s_rows[np.isin(stations.values["name_kind"], spec.station_kinds)]
    r_rows = np.arange(reports.n, dtype=np.int64)
    s_key = np.zeros(len(s_rows), dtype=np.int64)
    r_key = np.zeros(len(r_rows), dtype=np.int64)
    for part in spec.keys:
        s_owner, s_codes = stations.multi[part.station].gather(s_rows)
        r_owner, r_codes = reports.multi[part.report].gather(r_rows)
        s_rows, r_rows = s_rows[s_owner], r_rows[r_owner]
        span = np.int64(max(int(s_codes.max(initial=0)), int(r_codes.max(initial=0))) + 1)
        combined = np.concatenate([s_key[s_owner] * span + s_codes, r_key[r_owner] * span + r_codes])
        _, inverse = np.unique(combined, return_inverse=True)
        s_key, r_key = inverse[: len(s_rows)], inverse[len(s_rows) :]
    return s_rows, s_key, r_rows, r_key


def pass_pair_codes(stations: Side, reports: Side, spec: BlockingPass) -> tuple[np.ndarray, PassStats]:
    s_rows, s_key, r_rows, r_key = _exploded_keys(stations, reports, spec)
    n_keys = int(max(s_key.max(initial=-1), r_key.max(initial=-1))) + 1
    # a report holding a key twice (two readings folding alike) must count once
    r_unique = unique_ints(r_key * np.int64(reports.n) + r_rows)
    r_key, r_rows = r_unique // reports.n, r_unique % reports.n
    per_key = np.bincount(r_key, minlength=n_keys)
    over = per_key > spec.max_reports_per_key
    s_over = over[s_key] if len(s_key) else np.zeros(0, dtype=bool)
    skipped_station_rows = len(np.unique(s_rows[s_over]))
    s_rows, s_key = s_rows[~s_over], s_key[~s_over]
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(per_key, out=starts[1:])  # r_key is sorted: r_unique sorted by key then row
    counts = per_key[s_key]
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(s_key), dtype=np.int64), counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    report_rows = r_rows[np.repeat(starts[s_key], counts) + offsets]
    codes = unique_ints(s_rows[owner] * np.int64(reports.n) + report_rows)
    stats = PassStats(spec.name, len(codes), int(over.sum()), skipped_station_rows)
    return codes, stats


class KeyPassIndex(BaseIndexAlgorithm):
    """A blocking pass as a recordlinkage index algorithm over prepared sides.

    ``df_a``/``df_b`` handed to ``index`` must be the normalized tables the sides were prepared
    from (same row order); the pairs carry their index labels.
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


def index(prepared: Prepared, settings: Settings) -> Blocked:
    """Every pass, then their union."""
    stats, pass_codes = [], {}
    for spec in settings.blocking:
        codes, pass_stats = KeyPassIndex(spec, prepared).pair_codes()
        pass_codes[spec.name] = codes
        stats.append(pass_stats)
    union = unique_ints(np.concatenate(list(pass_codes.values()))) if pass_codes else np.zeros(0, np.int64)
    n_reports = np.int64(prepared.reports.n)
    return Blocked(union // n_reports, union % n_reports, tuple(stats), pass_codes)
