"""The matcher end to end: index → compare → score → rank, on normalized tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from . import blocking, compare as compare_mod, model as model_mod, rank as rank_mod
from .explain import evidence_frame
from .prepare import Prepared, prepare
from .settings import Settings, default_settings

Progress = Callable[[str], None]


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


def _frequencies_from(prepared: Prepared, name_frequency: pd.Series) -> np.ndarray:
    """Term frequencies by vocabulary code from a name -> share table."""
    out = np.zeros(len(prepared.vocab), dtype=float)
    for name, share in name_frequency.items():
        code = prepared.vocab.code(str(name))
        if code is not None:
            out[code] = float(share)
    return out


def name_frequencies(reports: pd.DataFrame) -> pd.Series:
    """Share of reports holding each name or alias: the table an incremental run passes back in."""
    names = reports["name_clean"].astype("string").fillna("")
    aliases = reports.get("alias_clean", pd.Series("", index=reports.index)).astype("string").fillna("")
    per_report = (names + "|" + aliases).str.split("|").map(lambda v: set(x for x in v if x))
    counts = per_report.explode().dropna().value_counts()
    return counts / max(len(reports), 1)


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
    name_frequency: pd.Series | None = None,
) -> MatchResult:
    """Rank candidate reports for every station record; train the model if none is given.

    ``exclude_pairs`` (station_record_id, report_id) are never offered (a reviewer ruled them
    out). ``name_frequency`` (name -> share of all reports) replaces the term frequencies taken
    from ``reports`` when those are only a slice of everything held (an incremental night).
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

    say(f"preparing {len(stations):,} station records and {len(reports):,} reports")
    prepared = prepare(stations, reports)
    if name_frequency is not None:
        prepared.name_frequency = _frequencies_from(prepared, name_frequency)
        # a table over all reports: its rarest name is held by one report of them all
        shares = name_frequency[name_frequency > 0]
        if len(shares):
            prepared.tf_floor = float(shares.min())
    ctx = compare_mod.context(prepared)
    lap("prepare")
    blocked = blocking.index(prepared, settings)
    say(f"blocking: {blocked.n_pairs:,} candidate pairs from {len(settings.blocking)} passes")
    lap("index")
    i, j = blocked.station_rows, blocked.report_rows
    if exclude_pairs is not None and len(exclude_pairs):
        keep = ~_pair_keys(prepared.stations.ids[i], prepared.reports.ids[j]).isin(
            _pair_keys(exclude_pairs["station_record_id"], exclude_pairs["report_id"])
        )
        i, j = i[keep], j[keep]
        say(f"excluded {int((~keep).sum()):,} pairs ruled out by reviewers")
    levels = compare_mod.compare(
        ctx, settings, i, j,
        progress=lambda done, total: say(f"comparing: {done:,}/{total:,} pairs"),
    )
    lap("compare")
    if model is None:
        say("training: u from random pairs, m by EM on blocked pairs")
        model = train(ctx, settings, prepared, i, levels)
        lap("train")
    total_all = rank_mod.score(model, prepared, levels, i)
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
            "probability": np.round(1.0 / (1.0 + np.exp2(-total)), 6),
            "duplicate_report_ids": ranked.duplicates,
        }
    )
    weights = rank_mod.pair_weights(model, prepared, levels[rows], i[rows])
    evidence = evidence_frame(model, levels[rows], weights)
    candidates = pd.concat([candidates, evidence], axis=1)
    lap("rank")
    say(f"ranked: {len(candidates):,} candidates for {candidates['station_record_id'].nunique():,} station records")
    scored_pairs = None
    if keep_scored_pairs:
        scored_pairs = pd.DataFrame({"station_row": i, "report_row": j, "score": total_all})
    return MatchResult(candidates, model, blocked, timings, scored_pairs)
