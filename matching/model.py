"""Fellegi–Sunter model: u from random pairs, m (and the match share) by EM on blocked pairs.

A small numpy EM because recordlinkage's ECM takes binary features only and our comparisons
have several ordered levels. The null level of every comparison carries no weight. The model is
saved as readable JSON (settings + m and u per level), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .probability import Calibration, calibrated_list_probabilities, list_probabilities
from .settings import Settings

U_PSEUDO_COUNT = 1.0  # keeps a level never seen among random pairs from getting u = 0
M_FLOOR = 1e-6
M_MIN_TRAINED = 1e-3  # no field is never wrong: staff mistype, families misremember


@dataclass
class Model:
    settings: Settings
    m: dict[str, list[float]]  # per comparison, per level (null level: 1.0)
    u: dict[str, list[float]]
    match_share: float  # share of blocked pairs that are matches (EM's lambda): the pair prior of scores
    info: dict[str, Any] = field(default_factory=dict)
    # share of station records whose family report is held: the prior of the probability shown
    # (see matching/probability.py); None for a model saved before it was estimated
    station_share: float | None = None
    calibration: Calibration | None = None  # fitted on reviewer and police labels, when there are enough
    # reports held when station_share was estimated: λ = share / reports is the model's, so a
    # stored probability is a function of the list and the model version alone (like the scores)
    reports_held: int | None = None

    def probabilities(self, score: np.ndarray, station: np.ndarray, n_reports: int | None = None) -> np.ndarray:
        """The probability shown for listed pairs (score per pair, its station record's id)."""
        share = self.station_share if self.station_share is not None else 0.5
        reports = self.reports_held or n_reports or 1
        raw = list_probabilities(score, station, self.prior_weight, reports, share)
        return calibrated_list_probabilities(raw, station, self.calibration)

    def weight_table(self) -> list[np.ndarray]:
        """log2(m/u) per comparison and level, 0 for the null level."""
        tables = []
        for comparison in self.settings.comparisons:
            m = np.asarray(self.m[comparison.name], dtype=float)
            u = np.asarray(self.u[comparison.name], dtype=float)
            w = np.log2(np.maximum(m, M_FLOOR) / np.maximum(u, M_FLOOR))
            w[0] = 0.0
            tables.append(w)
        return tables

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.match_share / (1 - self.match_share)))

    def to_dict(self) -> dict[str, Any]:
        comparisons = {}
        for comparison in self.settings.comparisons:
            comparisons[comparison.name] = {
                label: {
                    "m": float(self.m[comparison.name][k]),
                    "u": float(self.u[comparison.name][k]),
                    "weight": None if k == 0 else round(float(w), 3),
                }
                for k, (label, w) in enumerate(
                    zip(comparison.labels, self.weight_table()[self.settings.comparisons.index(comparison)])
                )
            }
        return {
            "format": "xunqin-fs-model/1",
            "match_share": self.match_share,
            "station_share": self.station_share,
            "reports_held": self.reports_held,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "info": self.info,
            "comparisons": comparisons,
            "settings": self.settings.to_dict(),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Model:
        if raw.get("format") != "xunqin-fs-model/1":
            raise ValueError("not a xunqin model file (format xunqin-fs-model/1)")
        settings = Settings.from_dict(raw["settings"])
        m, u = {}, {}
        for comparison in settings.comparisons:
            levels = raw["comparisons"][comparison.name]
            m[comparison.name] = [float(levels[label]["m"]) for label in comparison.labels]
            u[comparison.name] = [float(levels[label]["u"]) for label in comparison.labels]
        share = raw.get("station_share")
        calibration = raw.get("calibration")
        return cls(settings, m, u, float(raw["match_share"]), dict(raw.get("info", {})),
                   None if share is None else float(share),
                   None if calibration is None else Calibration.from_dict(calibration),
                   None if raw.get("reports_held") is None else int(raw["reports_held"]))

    @classmethod
    def load(cls, path: str | Path) -> Model:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def level_shares(levels: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Share of each non-null level (index 0 is the null level and gets 1.0)."""
    counts = np.bincount(levels, weights=weights, minlength=n_levels).astype(float)
    counts[0] = 0.0
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(n_levels, 1.0 / max(n_levels - 1, 1))
    shares[0] = 1.0
    return shares


def estimate_u(settings: Settings, random_levels: np.ndarray) -> dict[str, list[float]]:
    """u per level from levels of random pairs (almost all of which are non-matches)."""
    u = {}
    for c, comparison in enumerate(settings.comparisons):
        n_levels = len(comparison.levels)
        counts = np.bincount(random_levels[:, c], minlength=n_levels).astype(float)[1:]
        counts += U_PSEUDO_COUNT
        u[comparison.name] = [1.0] + list(counts / counts.sum())
    return u


def _log_tables(settings: Settings, probs: dict[str, list[float]]) -> list[np.ndarray]:
    tables = []
    for comparison in settings.comparisons:
        p = np.maximum(np.asarray(probs[comparison.name], dtype=float), M_FLOOR)
        t = np.log(p)
        t[0] = 0.0
        tables.append(t)
    return tables


def log_likelihood_ratios(settings, levels, m, u) -> np.ndarray:
    log_m, log_u = _log_tables(settings, m), _log_tables(settings, u)
    llr = np.zeros(len(levels))
    for c in range(levels.shape[1]):
        llr += log_m[c][levels[:, c]] - log_u[c][levels[:, c]]
    return llr


@dataclass(frozen=True)
class PatternCounts:
    """Blocked pairs as counts of distinct comparison patterns per station record.

    Pairs of one station record with the same levels in every comparison are the same to EM
    (same likelihood ratio, same posterior), so EM sees every pair through these counts without
    holding the pairs; counts of report shards add up (:meth:`combine`)."""

    station: np.ndarray  # int64 station row, sorted, then by pattern
    pattern: np.ndarray  # int64 packed levels (see pack_levels)
    count: np.ndarray  # int64 pairs

    @classmethod
    def of_pairs(cls, station_rows: np.ndarray, levels: np.ndarray) -> PatternCounts:
        frame = pd.DataFrame({"station": np.asarray(station_rows, dtype=np.int64), "pattern": pack_levels(levels)})
        counts = frame.groupby(["station", "pattern"], sort=True).size()
        return cls(counts.index.get_level_values(0).to_numpy(np.int64),
                   counts.index.get_level_values(1).to_numpy(np.int64), counts.to_numpy(np.int64))

    @classmethod
    def combine(cls, parts: list[PatternCounts]) -> PatternCounts:
        frame = pd.DataFrame({"station": np.concatenate([p.station for p in parts]),
                              "pattern": np.concatenate([p.pattern for p in parts]),
                              "count": np.concatenate([p.count for p in parts])})
        summed = frame.groupby(["station", "pattern"], sort=True)["count"].sum()
        return cls(summed.index.get_level_values(0).to_numpy(np.int64),
                   summed.index.get_level_values(1).to_numpy(np.int64), summed.to_numpy(np.int64))

    def take(self, keep: np.ndarray) -> PatternCounts:
        return PatternCounts(self.station[keep], self.pattern[keep], self.count[keep])


LEVEL_BITS = 4  # levels per comparison < 16; 15 comparisons fit one int64


def pack_levels(levels: np.ndarray) -> np.ndarray:
    """One int64 per row of the levels matrix (comparison c in bits 4c..4c+3)."""
    if levels.shape[1] * LEVEL_BITS > 63:
        raise ValueError("too many comparisons to pack into one integer")
    packed = np.zeros(len(levels), dtype=np.int64)
    for c in range(levels.shape[1]):
        packed |= levels[:, c].astype(np.int64) << np.int64(LEVEL_BITS * c)
    return packed


def unpack_levels(packed: np.ndarray, n_comparisons: int) -> np.ndarray:
    mask = np.int64((1 << LEVEL_BITS) - 1)
    return np.stack([(packed >> np.int64(LEVEL_BITS * c)) & mask for c in range(n_comparisons)],
                    axis=1).astype(np.int8).reshape(len(packed), n_comparisons)


def expectation(llr: np.ndarray, starts: np.ndarray, sizes: np.ndarray, share: float,
                count: np.ndarray | None = None) -> np.ndarray:
    """Posterior that each pair is the station person's match.

    A station person is at most one person: with probability ``share`` one of their n blocked
    candidates is the match (each a priori 1/n), otherwise none is. This assignment constraint
    keeps EM from settling on "same surname" or "same province" as its match class.
    With ``count``, each row stands for that many pairs of the same pattern (``sizes`` still
    counts rows per station; the station's n is the sum of its counts).
    """
    owner = np.repeat(np.arange(len(sizes)), sizes)
    weight = np.ones(len(llr)) if count is None else count.astype(float)
    pairs = np.add.reduceat(weight, starts) if len(starts) else np.zeros(0)
    terms = np.log(share) - np.log(pairs)[owner] + llr
    top = np.maximum(np.maximum.reduceat(terms, starts), np.log1p(-share)) if len(starts) else np.zeros(0)
    total = np.exp(np.log1p(-share) - top) + np.add.reduceat(weight * np.exp(terms - top[owner]), starts) \
        if len(starts) else np.zeros(0)
    return np.exp(terms - top[owner] - np.log(total)[owner])


def train(
    settings: Settings, blocked_levels: np.ndarray, station_rows: np.ndarray, random_levels: np.ndarray
) -> Model:
    """EM for m and the share of station persons with a match, u fixed from random pairs.

    ``station_rows`` (one per blocked pair) groups the pairs by station person.
    """
    return train_patterns(settings, PatternCounts.of_pairs(station_rows, blocked_levels), random_levels)


def train_patterns(settings: Settings, patterns: PatternCounts, random_levels: np.ndarray) -> Model:
    """:func:`train` on pattern counts: each EM iteration costs the distinct (station record,
    pattern) rows, not the pairs."""
    u = estimate_u(settings, random_levels)
    m = {}
    for comparison in settings.comparisons:
        start = np.array([1.0] + [lv.m if lv.m is not None else 1.0 for lv in comparison.levels[1:]])
        start[1:] /= start[1:].sum()
        m[comparison.name] = list(start)
    distinct, row_pattern = np.unique(patterns.pattern, return_inverse=True)
    levels = unpack_levels(distinct, len(settings.comparisons))
    count = patterns.count.astype(float)
    starts = np.flatnonzero(np.r_[True, patterns.station[1:] != patterns.station[:-1]]) if len(count) else \
        np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, len(count)])
    share = settings.em.start_match_share
    iterations, change = 0, float("inf")
    posterior = np.zeros(len(count))
    for iterations in range(1, settings.em.max_iterations + 1):  # noqa: B007 (the count is reported after the loop)
        llr = log_likelihood_ratios(settings, levels, m, u)[row_pattern]
        posterior = expectation(llr, starts, sizes, share, patterns.count)
        mass = posterior * count
        new_share = float(np.clip(mass.sum() / max(len(sizes), 1), 1e-6, 1 - 1e-6))
        new_m = {}
        for c, comparison in enumerate(settings.comparisons):
            shares = level_shares(levels[row_pattern, c], len(comparison.levels), mass)
            new_m[comparison.name] = list(np.maximum(shares, M_MIN_TRAINED))
        change = max(
            abs(new_share - share),
            max(float(np.max(np.abs(np.subtract(new_m[k], m[k])))) for k in new_m),
        )
        m, share = new_m, new_share
        if change < settings.em.tolerance:
            break
    # the prior for scores is the same for every pair, so scores compare across station records
    pairs = float(count.sum())
    pair_share = float(np.clip((posterior * count).sum() / max(pairs, 1), 1e-9, 0.5))
    info = {
        "em_iterations": iterations,
        "em_last_change": change,
        "em_pairs": int(pairs),
        "em_station_records": int(len(sizes)),
        "station_records_with_a_match": round(share, 4),
        "u_random_pairs": int(len(random_levels)),
    }
    return Model(settings, m, u, pair_share, info)


def training_sample(settings: Settings, patterns: PatternCounts) -> PatternCounts:
    """The pattern counts of a random sample of station records (all pairs of each kept
    together) holding about ``em.max_pairs`` pairs, or all when there are no more."""
    rng = np.random.default_rng(settings.em.seed + 1)
    pairs = int(patterns.count.sum())
    if pairs <= settings.em.max_pairs:
        return patterns
    stations = np.unique(patterns.station)
    share = settings.em.max_pairs / pairs
    chosen = rng.choice(stations, max(1, int(len(stations) * share)), replace=False)
    return patterns.take(np.isin(patterns.station, chosen))
