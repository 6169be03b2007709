"""The matcher end to end: index → compare → score → rank, on normalized tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import blocking, compare as compare_mod, duplicates as duplicates_mod, model as model_mod, probability as probability_mod, rank as rank_mod, score as score_mod
from . import shards as shards_mod
from .explain import evidence_frame
from .features import Prepared
from .progress import Counted, Progress
from .settings import Settings, default_settings


@dataclass
class MatchResult:
    candidates: pd.DataFrame  # the ranked, explained rows of the output contract
    model: model_mod.Model
    blocked: blocking.Blocked
    timings: dict[str, float] = field(default_factory=dict)
    # all blocked pairs with their score, for evaluation: station_row, report_row (positions in
    # the tables given) and score
    scored_pairs: pd.DataFrame | None = None


def _pair_keys(station_ids, report_ids) -> pd.Index:
    return shards_mod.pair_keys(station_ids, report_ids)


def random_pair_levels(ctx, settings: Settings, prepared: Prepared) -> np.ndarray:
    rng = np.random.default_rng(settings.em.seed)
    n = settings.em.u_random_pairs
    i = rng.integers(0, prepared.stations.n, n)
    j = rng.integers(0, prepared.reports.n, n)
    return compare_mod.compare(ctx, settings, i, j)


def train(ctx, settings: Settings, prepared: Prepared, i: np.ndarray, levels: np.ndarray):
    """EM on the pattern counts of a random sample of station records' pairs (all pairs of each
    kept together), u from random pairs."""
    patterns = model_mod.training_sample(settings, model_mod.PatternCounts.of_pairs(i, levels))
    return model_mod.train_patterns(settings, patterns, random_pair_levels(ctx, settings, prepared))


class Laps:
    """Seconds per step, each counted from the end of the one before: ``lap("index")``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 2)
        self._clock = now


class SerialRunner:
    """Every shard in this process, one after another, held in memory between phases (so a
    shard's pairs are compared once, for training and ranking alike). With one shard this is
    the single-process matcher."""

    keeps_shards = True

    def __init__(self, shards: list[shards_mod.LoadedShard], progress: Progress | None = None) -> None:
        self.shards = shards
        self.say = progress or (lambda _message: None)
        for shard in shards:
            shard.progress = progress

    @classmethod
    def of_frames(cls, stations: pd.DataFrame, reports: pd.DataFrame, shard_size: int | None = None,
                  progress: Progress | None = None) -> SerialRunner:
        # On two forked processes preparing took 16 s -> 12.6 s at M in `xunqin match`, but each
        # worker held 1.3 GB more (the command's peak 3.4 -> 4.5 GB): prepared here, at once.
        return cls(shards_mod.prepare_shards(stations, reports, shard_size or max(len(reports), 1)), progress)

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    def run(self, phase: Callable[..., Any], per_shard: list[tuple], *common: Any) -> list[Any]:
        out = []
        for shard, own in zip(self.shards, per_shard):
            out.append(phase(shard, *common, *own))
            if self.n_shards > 1:
                self.say(Counted(phase.__name__, shard.number + 1, self.n_shards, "shards"))
        return out

    def report_ids(self, rows: np.ndarray) -> np.ndarray:
        ids = np.concatenate([s.prepared.reports.ids for s in self.shards])
        return ids[rows]


# Reports per shard in this process: only one shard's blocked pairs are worked on at a time.
# Measured at M (10,000 x 500,000, one process): peak 4.05 GB in one shard, 2.76 GB in shards
# of 125,000, the same wall time (66.5 s / 67.2 s) and the same candidates.
SERIAL_SHARD_REPORTS = 125_000


def match(
    stations: pd.DataFrame,
    reports: pd.DataFrame,
    *,
    settings: Settings | None = None,
    model: model_mod.Model | None = None,
    top_k: int | None = None,
    progress: Progress | None = None,
    keep_scored_pairs: bool = False,
    exclude_pairs: pd.DataFrame | None = None,
    shard_size: int | None = None,
) -> MatchResult:
    """Rank candidate reports for every station record; train the model if none is given.

    ``exclude_pairs`` (station_record_id, report_id) are never offered (a reviewer ruled them
    out). The reports go in shards of ``shard_size`` (default :data:`SERIAL_SHARD_REPORTS`)
    through this process; the answers do not depend on it.
    """
    say = progress or (lambda _message: None)
    clock = time.perf_counter()
    say(f"preparing {len(stations):,} station records and {len(reports):,} reports")
    runner = SerialRunner.of_frames(stations, reports, shard_size or SERIAL_SHARD_REPORTS, progress)
    seconds = round(time.perf_counter() - clock, 2)
    result = match_shards(runner, settings=settings, model=model, top_k=top_k, progress=progress,
                          keep_scored_pairs=keep_scored_pairs, exclude_pairs=exclude_pairs)
    result.timings = {"prepare": seconds, **result.timings}
    return result


def match_shards(
    runner: Any,
    *,
    settings: Settings | None = None,
    model: model_mod.Model | None = None,
    top_k: int | None = None,
    progress: Progress | None = None,
    keep_scored_pairs: bool = False,
    exclude_pairs: pd.DataFrame | None = None,
) -> MatchResult:
    """:func:`match` over the report shards of ``runner`` (see :mod:`xunqin.matching.shards`).

    ``runner.run(phase, per_shard_args, *common)`` calls ``phase(shard, *common, *own)`` for
    every shard and returns the results in shard order; ``runner.report_ids(rows)`` gives the
    ids of rows of the whole report list; ``runner.keeps_shards`` says whether a shard stays in
    memory from one phase to the next. This process (:class:`SerialRunner`) or Prefect tasks
    on Dask (:mod:`xunqin.flows.dask_runner`): the same answers.
    """
    say = progress or (lambda _message: None)
    settings = model.settings if model is not None else (settings or default_settings())
    top_k = top_k or settings.top_k
    lap = Laps()
    timings = lap.timings

    n = runner.n_shards
    reduced = shards_mod.reduce(runner.run(shards_mod.summarize, [()] * n, settings), settings)
    counts, starts = reduced.counts, reduced.starts
    n_stations = len(reduced.station_ids)
    say(f"counted {counts.reports:,} reports in {n} shard{'s' if n > 1 else ''}")
    lap("summarize")
    exclude = None
    if exclude_pairs is not None and len(exclude_pairs):
        exclude = _pair_keys(exclude_pairs["station_record_id"], exclude_pairs["report_id"])
    if model is None:
        say("training: u from random pairs, m by EM on the counts of comparison patterns")
        random = shards_mod.random_pairs(settings, n_stations, starts)
        parts = runner.run(shards_mod.pattern_counts, [(r,) for r in random], settings, counts, exclude,
                           runner.keeps_shards, shards_mod.training_stations(settings, reduced))
        model = shards_mod.train(settings, parts)
        lap("train")
    own = [(reduced.groups[starts[k]:starts[k + 1]],) for k in range(n)]
    ranked = runner.run(shards_mod.rank_shard, own, settings, counts, model, top_k, exclude, keep_scored_pairs)
    lap("rank_shards")
    pairs = sum(r.pairs for r in ranked)
    say(f"blocked, compared and scored {pairs:,} candidate pairs from {len(settings.blocking)} passes")
    if model.station_share is None:
        # the share of station records whose family is held, from every blocked pair's evidence
        evidence = np.logaddexp.reduce(np.stack([r.evidence for r in ranked]), axis=0)
        model.station_share = probability_mod.station_share_from_evidence(evidence, n_stations)
        model.reports_held = int(counts.reports)
        model.info["station_records_with_a_family_held"] = round(model.station_share, 4)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in ranked])

    i, j, total, levels, weights = cat("station_rows"), cat("report_rows"), cat("score"), cat("levels"), cat("weights")
    rows, ranks = rank_mod.top_groups(i, j, total, reduced.groups[j], top_k)
    duplicates = duplicates_mod.duplicate_text(reduced.groups[j[rows]], j[rows], reduced.groups, runner.report_ids)
    candidates = candidate_frame(model, reduced.station_ids[i[rows]], runner.report_ids(j[rows]), i[rows], ranks,
                                 total[rows], duplicates, levels[rows], weights[rows], counts.reports)
    lap("rank")
    say(f"ranked: {len(candidates):,} candidates for {candidates['station_record_id'].nunique():,} station records")
    passes = tuple(blocking.PassStats(p.name, sum(r.passes[k].pairs for r in ranked), p.skipped_keys,
                                      p.skipped_station_rows) for k, p in enumerate(ranked[0].passes))
    scored_pairs = None
    if keep_scored_pairs:
        scored_pairs = pd.concat([r.scored for r in ranked], ignore_index=True)
        codes = {p.name: np.sort(np.concatenate([r.pass_codes[p.name] for r in ranked])) for p in passes}
        n_all = np.int64(counts.reports)
        union = np.sort(scored_pairs["station_row"].to_numpy() * n_all + scored_pairs["report_row"].to_numpy())
        blocked = blocking.Blocked(union // n_all, union % n_all, passes, codes)
    else:
        blocked = blocking.Blocked(np.zeros(0, np.int64), np.zeros(0, np.int64), passes, {}, pairs)
    return MatchResult(candidates, model, blocked, timings, scored_pairs)


def candidate_frame(model: model_mod.Model, station_ids: np.ndarray, report_ids: np.ndarray, station_rows: np.ndarray,
                    ranks: np.ndarray, total: np.ndarray, duplicates: np.ndarray, levels: np.ndarray,
                    weights: np.ndarray, n_reports: int) -> pd.DataFrame:
    """The output contract's rows for ranked pairs (in ranked order)."""
    candidates = pd.DataFrame(
        {
            "station_record_id": station_ids,
            "report_id": report_ids,
            "rank": ranks,
            "score": np.round(total, 3),
            "probability": np.round(model.probabilities(total, station_rows, n_reports), 6),
            "duplicate_report_ids": duplicates,
        }
    )
    return pd.concat([candidates, evidence_frame(model, levels, weights)], axis=1)


COMPACT_SHARE = 0.3  # a side whose pairs touch more of its rows is compared in place


def _compact(prepared: Prepared, i: np.ndarray, j: np.ndarray) -> tuple[Prepared, np.ndarray, np.ndarray]:
    """Only the rows the pairs touch, and the pairs renumbered into them: a focused run's few
    pairs must not pay for every row (comparison sorts each report field's values once). When
    the pairs touch a large share of a side, copying those rows costs more than it saves."""
    sides = []
    for side, rows in ((prepared.stations, i), (prepared.reports, j)):
        touched = np.bincount(rows, minlength=side.n) > 0  # linear, where np.unique sorts
        kept = np.flatnonzero(touched)
        if len(kept) > COMPACT_SHARE * side.n:
            sides.append((side, rows))
            continue
        position = np.empty(side.n, dtype=np.int64)
        position[kept] = np.arange(len(kept))
        sides.append((side.take(kept), position[rows]))
    (stations, si), (reports, sj) = sides
    return Prepared(stations, reports, prepared.vocab, prepared.name_frequency, prepared.tf_floor), si, sj


def match_prepared(
    prepared: Prepared,
    *,
    settings: Settings | None = None,
    model: model_mod.Model | None = None,
    top_k: int | None = None,
    progress: Progress | None = None,
    keep_scored_pairs: bool = False,
    exclude_pairs: pd.DataFrame | None = None,
    station_focus: np.ndarray | None = None,
    report_focus: np.ndarray | None = None,
    station_open: np.ndarray | None = None,
    report_open: np.ndarray | None = None,
    score_floor: np.ndarray | None = None,
) -> MatchResult:
    """:func:`match` on prepared tables.

    With a focus (bool per row of either side) only the pairs holding a focused station record
    or a focused report are compared: an incremental night's new records against everything
    held. Blocking caps and name frequencies still count every report, so each focused pair
    gets the score and the evidence the full run would give it. Rows whose ``*_open`` is False
    (a reviewer confirmed the person) stay in the counts but are never offered. ``score_floor``
    (per station row, -inf for none) drops pairs scoring below it before ranking: the K-th
    score of a stored full list that a new pair must beat to enter it.
    """
    say = progress or (lambda _message: None)
    settings = model.settings if model is not None else (settings or default_settings())
    top_k = top_k or settings.top_k
    lap = Laps()
    timings = lap.timings

    focused = station_focus is not None or report_focus is not None
    blocked = blocking.index(prepared, settings, station_focus, report_focus)
    say(f"blocking: {blocked.n_pairs:,} candidate pairs from {len(settings.blocking)} passes")
    i, j = blocked.station_rows, blocked.report_rows
    keep = np.ones(len(i), dtype=bool)
    if station_open is not None:
        keep &= station_open[i]
    if report_open is not None:
        keep &= report_open[j]
    if exclude_pairs is not None and len(exclude_pairs):
        ruled_out = _pair_keys(prepared.stations.ids[i], prepared.reports.ids[j]).isin(
            _pair_keys(exclude_pairs["station_record_id"], exclude_pairs["report_id"])
        )
        say(f"excluded {int((ruled_out & keep).sum()):,} pairs ruled out by reviewers")
        keep &= ~ruled_out
    i, j = i[keep], j[keep]
    # compare and score on only the rows the pairs touch; rank on the whole tables (a person
    # reported twice is grouped with reports that were not compared)
    small, si, sj = _compact(prepared, i, j) if focused else (prepared, i, j)
    lap("index")
    ctx = compare_mod.context(small, len(si))
    levels = compare_mod.compare(
        ctx, settings, si, sj,
        progress=lambda done, total: say(Counted("comparing", done, total, "pairs")),
    )
    lap("compare")
    if model is None:
        say("training: u from random pairs, m by EM on blocked pairs")
        model = train(compare_mod.context(prepared) if focused else ctx, settings, prepared, si, levels)
        lap("train")
    total_all = score_mod.score(model, small, levels, si)
    if model.station_share is None and not focused:
        # the share of station records whose family is held, from every blocked pair's evidence
        model.station_share = probability_mod.estimate_station_share(
            total_all, i, prepared.stations.n, model.prior_weight, prepared.reports.n)
        model.reports_held = int(prepared.reports.n)
        model.info["station_records_with_a_family_held"] = round(model.station_share, 4)
    if score_floor is not None:
        enters = total_all >= score_floor[i]
        i, j, si, levels, total_all = i[enters], j[enters], si[enters], levels[enters], total_all[enters]
    lap("score")
    ranked = rank_mod.rank(prepared, i, j, total_all, top_k)
    rows = ranked.pair_index
    weights = score_mod.pair_weights(model, small, levels[rows], si[rows])
    candidates = candidate_frame(model, prepared.stations.ids[i[rows]], prepared.reports.ids[j[rows]], i[rows],
                                 ranked.rank, total_all[rows], ranked.duplicates, levels[rows], weights,
                                 prepared.reports.n)
    lap("rank")
    say(f"ranked: {len(candidates):,} candidates for {candidates['station_record_id'].nunique():,} station records")
    scored_pairs = None
    if keep_scored_pairs:
        scored_pairs = pd.DataFrame({"station_row": i, "report_row": j, "score": total_all})
    return MatchResult(candidates, model, blocked, timings, scored_pairs)
