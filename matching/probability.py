"""The probability shown beside a candidate: the chance that this report is this person.

Per station record, over its candidate list plus "the family is not among these reports":
a person has at most one family, and most station people have no report at all. With ``s`` the
share of station records whose family report is held (and found by blocking), every one of the
``R`` reports held is a priori the family with probability ``λ = s / R``, and the evidence of a
candidate multiplies that by its Bayes factor ``BF = m/u`` (the score minus the model's pair
prior, in bits). So

    P(candidate c) = λ·BF_c / (1 + Σ_k λ·BF_k)        over the person's listed candidates k,

and ``1 / (1 + Σ λ·BF)`` is left for "not among these". Candidates below the top K add a
negligible mass (their BF is small beside 1/λ, which is R/s: hundreds of thousands).

``s`` comes from the data (:func:`estimate_station_share`: the same sum, maximised over ``s``
on the blocked pairs of every station record), not from a clip. Where reviewers and the police
have labelled pairs, an isotonic map fitted on those labels alone corrects what the model's
independence assumption gets wrong (:class:`Calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SHARE_BOUNDS = (1e-4, 1 - 1e-4)


def _group_logsumexp(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """log(Σ exp(values)) per group (-inf for a group without values)."""
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, groups, values)
    safe = np.where(np.isfinite(top), top, 0.0)
    sums = np.zeros(n_groups)
    np.add.at(sums, groups, np.exp(values - safe[groups]))
    with np.errstate(divide="ignore"):
        return np.where(sums > 0, safe + np.log(sums), -np.inf)


def log_evidence(score: np.ndarray, prior_weight: float, n_reports: int) -> np.ndarray:
    """ln(BF / R) per pair: the score in bits less the model's pair prior, less log2 R."""
    return (np.asarray(score, dtype=np.float64) - prior_weight - np.log2(max(n_reports, 1))) * np.log(2.0)


def estimate_station_share(score: np.ndarray, station: np.ndarray, n_stations: int, prior_weight: float,
                           n_reports: int, *, iterations: int = 200, tolerance: float = 1e-7) -> float:
    """``s`` maximising the likelihood of the blocked pairs under "at most one family per
    person, each report a priori λ = s/R": the EM fixed point s = mean over station records of
    their posterior mass s·Σ(BF/R) / (1 + s·Σ(BF/R)). Station records without a blocked pair
    count, with mass 0."""
    if n_stations == 0:
        return SHARE_BOUNDS[0]
    codes, _ = pd.factorize(station)
    z = _group_logsumexp(log_evidence(score, prior_weight, n_reports), codes, int(codes.max(initial=-1)) + 1)
    return station_share_from_evidence(z, n_stations, iterations=iterations, tolerance=tolerance)


def station_evidence(score: np.ndarray, station: np.ndarray, n_stations: int, prior_weight: float,
                     n_reports: int) -> np.ndarray:
    """ln Σ(BF/R) over each station row's blocked pairs (-inf without one); over report shards
    these combine with ``np.logaddexp``."""
    return _group_logsumexp(log_evidence(score, prior_weight, n_reports), np.asarray(station, dtype=np.int64),
                            n_stations)


def station_share_from_evidence(z: np.ndarray, n_stations: int, *, iterations: int = 200,
                                tolerance: float = 1e-7) -> float:
    """:func:`estimate_station_share` from every station record's ln Σ(BF/R) (``z``, those
    without a pair may be left out or -inf)."""
    if n_stations == 0:
        return SHARE_BOUNDS[0]
    z = z[np.isfinite(z)]
    s = 0.5
    for _ in range(iterations):
        with np.errstate(over="ignore"):
            mass = 1.0 / (1.0 + np.exp(-(np.log(s) + z)))  # s·e^z / (1 + s·e^z)
        new = float(np.clip(mass.sum() / n_stations, *SHARE_BOUNDS))
        if abs(new - s) < tolerance:
            return new
        s = new
    return s


def list_probabilities(score: np.ndarray, station: np.ndarray, prior_weight: float, n_reports: int,
                       station_share: float) -> np.ndarray:
    """P(this report is this person's family) for every listed pair, normalised within each
    station record's list together with the "not among these" mass."""
    if len(score) == 0:
        return np.zeros(0)
    codes, _ = pd.factorize(station)
    e = log_evidence(score, prior_weight, n_reports) + np.log(station_share)
    n_groups = int(codes.max()) + 1
    lse = _group_logsumexp(e, codes, n_groups)
    denominator = np.logaddexp(0.0, lse)  # ln(1 + Σ λ·BF)
    return np.exp(e - denominator[codes])


@dataclass(frozen=True)
class Calibration:
    """An increasing map from the model's probability to the share of labelled pairs that were
    the family (isotonic regression on labels only), applied by linear interpolation."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    labels: int  # how many labelled pairs it was fitted on

    @classmethod
    def fit(cls, probability: np.ndarray, is_match: np.ndarray) -> Calibration:
        from sklearn.isotonic import IsotonicRegression

        p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        iso.fit(p, np.asarray(is_match, dtype=float))
        x = np.r_[0.0, iso.X_thresholds_, 1.0]
        y = np.r_[iso.y_thresholds_[0], iso.y_thresholds_, iso.y_thresholds_[-1]]
        return cls(tuple(round(float(v), 6) for v in x), tuple(round(float(v), 6) for v in y), int(len(p)))

    def apply(self, probability: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(probability, dtype=float), self.x, self.y)

    def to_dict(self) -> dict[str, object]:
        return {"method": "isotonic", "labels": self.labels, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Calibration:
        if raw.get("method") != "isotonic":
            raise ValueError("calibration method must be 'isotonic'")
        return cls(tuple(map(float, raw["x"])), tuple(map(float, raw["y"])), int(raw.get("labels", 0)))  # type: ignore[arg-type]


def calibrated_list_probabilities(raw: np.ndarray, station: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """The calibrated probability per listed pair; a list whose calibrated values add up past 1
    is scaled back to 1 (a person has one family)."""
    if calibration is None or len(raw) == 0:
        return raw
    p = calibration.apply(raw)
    codes, _ = pd.factorize(station)
    total = np.bincount(codes, weights=p)
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)
    return p * scale[codes]


def calibration_table(probability: np.ndarray, is_match: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per probability bin, pairs, mean probability shown, share true."""
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    y = np.asarray(is_match, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        at = which == b
        n = int(at.sum())
        rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "pairs": n,
                     "mean_probability": float(p[at].mean()) if n else float("nan"),
                     "share_true": float(y[at].mean()) if n else float("nan")})
    return pd.DataFrame(rows)


def expected_calibration_error(probability: np.ndarray, is_match: np.ndarray, bins: int = 10) -> float:
    """Σ over bins of (pairs in bin / pairs) · |mean probability − share true|."""
    table = calibration_table(probability, is_match, bins)
    n = table["pairs"].sum()
    if n == 0:
        return float("nan")
    filled = table[table["pairs"] > 0]
    return float((filled["pairs"] / n * (filled["mean_probability"] - filled["share_true"]).abs()).sum())
