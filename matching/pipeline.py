"""The matcher end to end: index → compare → score → rank, on normalized tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import blocking, compare as compare_mod, model as model_mod, probability as probability_mod, rank as rank_mod
from .explain import evidence_frame
from .prepare import Prepared, prepare
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
    return pd.Index(pd.Series(station_ids, dtype=str).str.cat(pd.Series(report_ids, dtype=str), sep="\x1f"))


def random_pair_levels(ctx, settings: Settings, prepared: Prepared) -> np.ndarray:
    rng = np.random.default_rng(settings.em.seed)
    n = settings.em.u_random_pairs
    i = rng.integers(0, prepared.stations.n, n)
    j = rng.integers(0, prepared.reports.n, n)
    return compare_mod.compare(ctx, settings, i, j)


def train(ctx, settings: Settings, prepared: Prepared, i: np.ndarray, levels: np.ndarray):
    """EM on the pairs of a random sample of station records (all pairs of each kept together)."""
    rng = np.random.default_rng(settings.em.seed + 1)
    keep = np.ones(len(i), dtype=bool)
    if len(levels) > settings.em.max_pairs:
        stations = np.unique(i)
        share = settings.em.max_pairs / len(levels)
        chosen = rng.choice(stations, max(1, int(len(stations) * share)), replace=False)
        keep = np.isin(i, chosen)
    random_levels = random_pair_levels(ctx, settings, prepared)
    return model_mod.train(settings, levels[keep], i[keep], random_levels)


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
) -> MatchResult:
    """Rank candidate reports for every station record; train the model if none is given.

    ``exclude_pairs`` (station_record_id, report_id) are never offered (a reviewer ruled them
    out).
    """
    say = progress or (lambda _message: None)
    clock = time.perf_counter()
    say(f"preparing {len(stations):,} station records and {len(reports):,} reports")
    prepared = prepare(stations, reports)
    seconds = round(time.perf_counter() - clock, 2)
    result = match_prepared(prepared, settings=settings, model=model, top_k=top_k, progress=progress,
                            keep_scored_pairs=keep_scored_pairs, exclude_pairs=exclude_pairs)
    result.timings = {"prepare": seconds, **result.timings}
    return result


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
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

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
    ctx = compare_mod.context(small)
    levels = compare_mod.compare(
        ctx, settings, si, sj,
        progress=lambda done, total: say(Counted("comparing", done, total, "pairs")),
    )
    lap("compare")
    if model is None:
        say("training: u from random pairs, m by EM on blocked pairs")
        model = train(compare_mod.context(prepared) if focused else ctx, settings, prepared, si, levels)
        lap("train")
    total_all = rank_mod.score(model, small, levels, si)
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
    total = total_all[rows]
    candidates = pd.DataFrame(
        {
            "station_record_id": prepared.stations.ids[i[rows]],
            "report_id": prepared.reports.ids[j[rows]],
            "rank": ranked.rank,
            "score": np.round(total, 3),
            "probability": np.round(model.probabilities(total, i[rows], prepared.reports.n), 6),
            "duplicate_report_ids": ranked.duplicates,
        }
    )
    weights = rank_mod.pair_weights(model, small, levels[rows], si[rows])
    evidence = evidence_frame(model, levels[rows], weights)
    candidates = pd.concat([candidates, evidence], axis=1)
    lap("rank")
    say(f"ranked: {len(candidates):,} candidates for {candidates['station_record_id'].nunique():,} station records")
    scored_pairs = None
    if keep_scored_pairs:
        scored_pairs = pd.DataFrame({"station_row": i, "report_row": j, "score": total_all})
    return MatchResult(candidates, model, blocked, timings, scored_pairs)
