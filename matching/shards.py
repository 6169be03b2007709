"""The matcher over report shards: what depends on every report is reduced over the shards first
and handed to each shard, which then blocks, compares, scores and keeps its best on its own.

The station side is small and every shard holds all of it; the report list is cut into shards
(rows ``start .. start + n`` of the whole list). Every phase here is a plain function of one
shard and small arguments, so a runner may call them in this process one shard after another
(:class:`xunqin.matching.pipeline.SerialRunner`) or as Prefect tasks on a Dask cluster
(:mod:`xunqin.flows.dask_runner`); the answers are the same.

1. :func:`summarize`: per shard, the counts the whole list decides: reports per station key of
   every blocking pass (``max_reports_per_key``), reports per name (the term-frequency
   adjustment), and the keys that make two reports one person (duplicate grouping).
   :func:`reduce` adds them up.
2. :func:`pattern_counts` (when no model is given): the blocked pairs as counts of comparison
   patterns per station record (EM needs no more), and the levels of the shard's share of the
   random pairs u is estimated from.
3. :func:`rank_shard`: score with the model and keep each station record's best ``top_k``
   duplicate groups; the runner's caller merges the shards' lists into the final top K
   (:func:`xunqin.matching.rank.top_groups` is exact over such a union).

Station codes are the same in every shard because each shard's vocabulary numbers the station
side first; a station record's composite blocking keys are numbered alike too
(:func:`xunqin.matching.blocking.station_key_reports`). Nothing here numbers a report by its
shard's vocabulary across shards: duplicate keys travel as hashes of the values. (In one
process the shards are cut from one preparation and share its vocabulary, :func:`prepare_shards`;
a shard prepared on its own, as on Dask, has its own. The answers are the same.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import blocking, compare as compare_mod, duplicates as duplicates_mod, model as model_mod, probability as probability_mod, rank as rank_mod, score as score_mod
from .codes import Vocabulary
from .features import Prepared, assemble, positional, prepare_reports, prepare_stations
from .progress import Counted
from .settings import Settings


@dataclass(frozen=True)
class ShardSource:
    """Where a shard is read from: Parquet files of the normalized tables (the worker that
    runs the shard reads them; nothing large goes through the scheduler)."""

    number: int
    start: int  # row of the whole report list its first report is
    n: int
    stations: str  # every station record
    reports: str  # this shard's reports


@dataclass
class LoadedShard:
    number: int
    start: int
    prepared: Prepared
    station_codes: int  # vocabulary codes below this are the station side's, the same in every shard
    # what a runner holding shards in memory keeps between phases (the compared pairs)
    kept: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None  # where comparing reports its counts, in this process


def prepare_shards(stations: pd.DataFrame, reports: pd.DataFrame, size: int, *, first_number: int = 0,
                   first_start: int = 0, slack: float = 2.0) -> list[LoadedShard]:
    """Every report prepared at once with one vocabulary (the station side first, so its codes
    are those of any other shard), then cut into shards of ``size`` reports that are views of
    its rows: a string many shards hold (a common name's reading, a county's code) is coded
    once, not once per shard (at M in shards of 125,000: 11.7-13.0 s prepared one by one,
    7.4-9.5 s at once)."""
    vocab = Vocabulary()
    station_side = prepare_stations(positional(stations), vocab, slack)
    station_codes = len(vocab)
    report_side = prepare_reports(positional(reports), vocab)
    size = max(size, 1)
    return [LoadedShard(first_number + k, first_start + at, assemble(station_side, report_side.row_range(at, at + size), vocab),
                        station_codes) for k, at in enumerate(range(0, max(len(reports), 1), size))]


def prepare_shard(number: int, start: int, stations: pd.DataFrame, reports: pd.DataFrame,
                  slack: float = 2.0) -> LoadedShard:
    """One shard of the whole list (its reports are rows ``start ..`` of it)."""
    return prepare_shards(stations, reports, max(len(reports), 1), first_number=number, first_start=start,
                          slack=slack)[0]


def load(source: ShardSource) -> LoadedShard:
    """Read and prepare a shard (pyarrow reads the Parquet files where this runs)."""
    return prepare_shard(source.number, source.start, pd.read_parquet(source.stations),
                         pd.read_parquet(source.reports))


@dataclass(frozen=True)
class Summary:
    reports: int
    station_ids: np.ndarray
    key_reports: dict[str, np.ndarray]  # per blocking pass, reports per station key
    name_reports: np.ndarray  # per station-side code, reports holding it as a name or alias
    id_key: np.ndarray  # per report, hashed duplicate keys (-1: not usable)
    fields_key: np.ndarray
    # per blocking pass, (station row, station key) of every key a station record holds; the
    # same in every shard, so only the first shard's is sent
    station_keys: dict[str, tuple[np.ndarray, np.ndarray]] | None


def summarize(shard: LoadedShard, settings: Settings) -> Summary:
    p = shard.prepared
    names = p.reports.multi["name_all"].codes
    name_reports = np.bincount(names[names < shard.station_codes], minlength=shard.station_codes)
    id_key, fields_key = duplicates_mod.hashed_group_keys(p)
    keys = {spec.name: blocking.station_keys(p.stations, p.reports, spec) for spec in settings.blocking} \
        if shard.number == 0 else None
    return Summary(p.reports.n, p.stations.ids,
                   {spec.name: blocking.station_key_reports(p.stations, p.reports, spec) for spec in settings.blocking},
                   name_reports, id_key, fields_key, keys)


@dataclass(frozen=True)
class Counts:
    """What every shard needs to know of the whole report list."""

    reports: int
    key_reports: dict[str, np.ndarray]
    name_reports: np.ndarray


@dataclass(frozen=True)
class Reduced:
    counts: Counts
    starts: np.ndarray  # first row of each shard in the whole list, and the total last
    groups: np.ndarray  # per report of the whole list, its duplicate-group label
    station_ids: np.ndarray
    pair_bound: np.ndarray  # per station row, at most this many blocked pairs (the passes' sum)


def reduce(summaries: list[Summary], settings: Settings) -> Reduced:
    """Add up the shards' summaries (in shard order)."""
    sizes = np.array([s.reports for s in summaries], dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)]
    first = summaries[0]
    key_reports = {name: np.sum([s.key_reports[name] for s in summaries], axis=0) for name in first.key_reports}
    counts = Counts(int(sizes.sum()), key_reports, np.sum([s.name_reports for s in summaries], axis=0))
    groups = duplicates_mod.duplicate_labels(np.concatenate([s.id_key for s in summaries]),
                                       np.concatenate([s.fields_key for s in summaries]))
    bound = np.zeros(len(first.station_ids))
    for spec in settings.blocking:
        rows, keys = first.station_keys[spec.name]
        per_key = key_reports[spec.name][keys]
        bound += np.bincount(rows, weights=np.where(per_key <= spec.max_reports_per_key, per_key, 0),
                             minlength=len(bound))
    return Reduced(counts, starts, groups, first.station_ids, bound)


def training_stations(settings: Settings, reduced: Reduced) -> np.ndarray:
    """The station records EM trains on (bool per row): a random sample whose pairs number about
    ``em.max_pairs`` at most, all of them when there are no more. Drawn from the bound on each
    record's pairs the counts give (the passes' pairs added up: their union is smaller), so it
    is known before any shard blocks, and every shard compares only the sample's pairs for it."""
    bound = reduced.pair_bound
    chosen = np.zeros(len(bound), dtype=bool)
    candidates = np.flatnonzero(bound > 0)
    total = float(bound.sum())
    if total <= settings.em.max_pairs:
        chosen[candidates] = True
        return chosen
    rng = np.random.default_rng(settings.em.seed + 1)
    share = settings.em.max_pairs / total
    chosen[rng.choice(candidates, max(1, int(len(candidates) * share)), replace=False)] = True
    return chosen


def with_counts(shard: LoadedShard, counts: Counts) -> Prepared:
    """The shard's tables with the name frequencies of the whole list."""
    p = shard.prepared
    frequency = np.zeros(len(p.vocab))
    frequency[: len(counts.name_reports)] = counts.name_reports / max(counts.reports, 1)
    return Prepared(p.stations, p.reports, p.vocab, frequency, 1.0 / max(counts.reports, 1))


def pair_keys(station_ids, report_ids) -> pd.Index:
    return pd.Index(pd.Series(station_ids, dtype=str).str.cat(pd.Series(report_ids, dtype=str), sep="\x1f"))


def _compared(shard: LoadedShard, settings: Settings, counts: Counts, exclude: pd.Index | None
              ) -> tuple[blocking.Blocked, np.ndarray, np.ndarray, np.ndarray]:
    """Blocked (capped by the whole list's counts), less the excluded pairs, and compared."""
    if "compared" in shard.kept:
        return shard.kept.pop("compared")
    blocked, i, j = _blocked(shard, settings, counts, exclude)
    levels = compare_mod.compare(compare_mod.context(shard.prepared, len(i)), settings, i, j, progress=_counting(shard))
    return blocked, i, j, levels


def _counting(shard: LoadedShard) -> Callable[[int, int], None] | None:
    say = shard.progress
    if say is None:
        return None
    return lambda done, total: say(Counted("comparing", done, total, "pairs"))


def _blocked(shard: LoadedShard, settings: Settings, counts: Counts, exclude: pd.Index | None
             ) -> tuple[blocking.Blocked, np.ndarray, np.ndarray]:
    p = shard.prepared
    blocked = blocking.index(p, settings, key_reports=counts.key_reports)
    i, j = blocked.station_rows, blocked.report_rows
    if exclude is not None and len(exclude):
        keep = ~pair_keys(p.stations.ids[i], p.reports.ids[j]).isin(exclude)
        i, j = i[keep], j[keep]
    return blocked, i, j


def random_pairs(settings: Settings, n_stations: int, starts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The random pairs u is estimated from, drawn over the whole list, split by shard:
    (positions among all random pairs, station rows, report rows within the shard)."""
    rng = np.random.default_rng(settings.em.seed)
    n = settings.em.u_random_pairs
    i = rng.integers(0, n_stations, n)
    j = rng.integers(0, int(starts[-1]), n)
    shard = np.searchsorted(starts, j, side="right") - 1
    out = []
    for k in range(len(starts) - 1):
        at = np.flatnonzero(shard == k)
        out.append((at, i[at], j[at] - starts[k]))
    return out


@dataclass(frozen=True)
class ShardPatterns:
    patterns: model_mod.PatternCounts
    random_positions: np.ndarray
    random_levels: np.ndarray


def pattern_counts(shard: LoadedShard, settings: Settings, counts: Counts, exclude: pd.Index | None,
                   keep_compared: bool, training: np.ndarray, random: tuple[np.ndarray, np.ndarray, np.ndarray]
                   ) -> ShardPatterns:
    """What EM needs of this shard's blocked pairs of the ``training`` station records (bool per
    row), and its random pairs' levels. A runner holding the shard until it is ranked compares
    every pair once and keeps them (``keep_compared``); else only the training pairs are
    compared here, and the ranking compares them all."""
    if keep_compared:
        compared = _compared(shard, settings, counts, exclude)
        shard.kept["compared"] = compared
        _, i, _, levels = compared
        mine = training[i]
        i, levels = i[mine], levels[mine]
    else:
        _, i, j = _blocked(shard, settings, counts, exclude)
        mine = training[i]
        i, j = i[mine], j[mine]
        levels = compare_mod.compare(compare_mod.context(shard.prepared, len(i)), settings, i, j)
    positions, ri, rj = random
    random_levels = compare_mod.compare(compare_mod.context(shard.prepared, len(ri)), settings, ri, rj)
    return ShardPatterns(model_mod.PatternCounts.of_pairs(i, levels), positions, random_levels)


def train(settings: Settings, parts: list[ShardPatterns]) -> model_mod.Model:
    """u from the random pairs of every shard, m by EM on the pattern counts of all of them."""
    n = sum(len(p.random_positions) for p in parts)
    random_levels = np.zeros((n, len(settings.comparisons)), dtype=np.int8)
    for p in parts:
        random_levels[p.random_positions] = p.random_levels
    patterns = model_mod.PatternCounts.combine([p.patterns for p in parts])
    return model_mod.train_patterns(settings, patterns, random_levels)


@dataclass(frozen=True)
class ShardRanked:
    station_rows: np.ndarray
    report_rows: np.ndarray  # rows of the whole list
    score: np.ndarray
    levels: np.ndarray
    weights: np.ndarray
    evidence: np.ndarray | None  # per station row, ln Σ(BF/R) of its pairs here (for station_share)
    passes: tuple[blocking.PassStats, ...]
    pairs: int
    scored: pd.DataFrame | None  # every pair and its score, when asked (evaluation)
    pass_codes: dict[str, np.ndarray] | None  # per pass, station_row * reports + report row (whole list)


def rank_shard(shard: LoadedShard, settings: Settings, counts: Counts, model: model_mod.Model, top_k: int,
               exclude: pd.Index | None, keep_pairs: bool, groups: np.ndarray) -> ShardRanked:
    """Score this shard's pairs and keep each station record's best ``top_k`` duplicate groups
    (``groups``: the whole list's labels of this shard's reports)."""
    blocked, i, j, levels = _compared(shard, settings, counts, exclude)
    prepared = with_counts(shard, counts)
    total = score_mod.score(model, prepared, levels, i)
    evidence = None
    if model.station_share is None:
        evidence = probability_mod.station_evidence(total, i, prepared.stations.n, model.prior_weight, counts.reports)
    rows = j + shard.start
    kept, _ = rank_mod.top_groups(i, rows, total, groups[j], top_k)
    weights = score_mod.pair_weights(model, prepared, levels[kept], i[kept])
    scored = pass_codes = None
    if keep_pairs:
        scored = pd.DataFrame({"station_row": i, "report_row": rows, "score": total})
        n_local, n_all = np.int64(prepared.reports.n), np.int64(counts.reports)
        pass_codes = {name: codes // n_local * n_all + codes % n_local + shard.start
                      for name, codes in blocked.pass_codes.items()}
    return ShardRanked(i[kept], rows[kept], total[kept], levels[kept], weights, evidence, blocked.passes,
                       len(i), scored, pass_codes)
