"""Learning from reviewers and the police: a model version fitted from labelled pairs.

Labels are pairs someone decided: a police 比中 or a reviewer's 确认 (the same person), a 排除
or a police 未比中 (not). A new version takes

- u from random pairs, as always (labels are far too few for it);
- m from the labelled true pairs, per comparison level, smoothed towards EM's estimate where a
  level has few labels: m = (labelled count + α·m_EM) / (labelled true pairs + α);
- the share of station records whose family is held from the data (matching/probability.py);
- a calibration of the probability shown, fitted on labelled pairs only (isotonic), when there
  are enough of them.

It is judged on labels it did not see: the labelled station records are split by a hash of
their id (the same split every time), and recall@1/@10 of the held-out confirmed pairs and the
calibration error over the held-out labelled pairs are compared with the active version's on
the very same pairs. A new version replaces the active one only when it is not worse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import compare as compare_mod
from .model import M_MIN_TRAINED, Model
from .pipeline import match_prepared
from .features import Prepared
from .probability import Calibration, expected_calibration_error

SMOOTHING_PAIRS = 20.0  # α: EM's estimate weighs as much as this many labelled true pairs
HELD_OUT_SHARE = 0.3  # labelled station records kept out of training, for the evaluation
MIN_CALIBRATION_LABELS = 30  # fewer labelled pairs than this: no calibration is fitted
# "not worse": recall@1 may not fall, the calibration error may not rise, by more than these
RECALL_TOLERANCE = 0.0
ECE_TOLERANCE = 0.01


def held_out(station_ids: pd.Series, share: float = HELD_OUT_SHARE) -> np.ndarray:
    """True for the station records whose labels evaluate (a fixed hash split, not random)."""
    digest = station_ids.astype(str).map(lambda s: int(hashlib.sha256(s.encode("utf-8")).hexdigest()[:8], 16))
    return (digest.to_numpy() % 1000) < int(share * 1000)


def _rows(prepared: Prepared, labels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row positions of labelled pairs whose two records are held (others are dropped)."""
    s_pos = pd.Series(np.arange(prepared.stations.n), index=pd.Index(prepared.stations.ids.astype(str)))
    r_pos = pd.Series(np.arange(prepared.reports.n), index=pd.Index(prepared.reports.ids.astype(str)))
    s_pos = s_pos[~s_pos.index.duplicated()]
    r_pos = r_pos[~r_pos.index.duplicated()]
    i = labels["station_record_id"].astype(str).map(s_pos)
    j = labels["report_id"].astype(str).map(r_pos)
    known = i.notna().to_numpy() & j.notna().to_numpy()
    return i[known].astype(np.int64).to_numpy(), j[known].astype(np.int64).to_numpy(), known


def m_from_labels(model: Model, levels: np.ndarray, alpha: float = SMOOTHING_PAIRS) -> dict[str, list[float]]:
    """m per level from the levels of labelled true pairs, smoothed towards the model's m."""
    m: dict[str, list[float]] = {}
    for c, comparison in enumerate(model.settings.comparisons):
        n_levels = len(comparison.levels)
        counts = np.bincount(levels[:, c], minlength=n_levels).astype(float)
        counts[0] = 0.0  # the null level carries no weight
        prior = np.asarray(model.m[comparison.name], dtype=float).copy()
        prior[0] = 0.0
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(n_levels, 1.0 / max(n_levels - 1, 1))
        smoothed = (counts + alpha * prior) / (counts.sum() + alpha)
        smoothed = np.maximum(smoothed, M_MIN_TRAINED)
        smoothed[0] = 1.0
        m[comparison.name] = list(smoothed)
    return m


@dataclass(frozen=True)
class Evaluation:
    """A model on held-out labels: recall of the confirmed pairs, calibration of all labelled."""

    confirmed: int
    labelled: int
    recall_at_1: float
    recall_at_10: float
    ece: float

    def as_dict(self) -> dict[str, float | int]:
        return {"held_out_confirmed": self.confirmed, "held_out_labelled": self.labelled,
                "recall_at_1": round(self.recall_at_1, 4), "recall_at_10": round(self.recall_at_10, 4),
                "ece": round(self.ece, 4)}


def _lists(model: Model, prepared: Prepared, station_rows: np.ndarray, top_k: int) -> pd.DataFrame:
    """The candidate lists of these station records under ``model`` (a focused run)."""
    focus = np.zeros(prepared.stations.n, dtype=bool)
    focus[station_rows] = True
    out = match_prepared(prepared, model=model, top_k=top_k, station_focus=focus,
                         report_focus=np.zeros(prepared.reports.n, dtype=bool))
    return out.candidates[["station_record_id", "report_id", "rank", "probability"]]


def evaluate(model: Model, prepared: Prepared, labels: pd.DataFrame, top_k: int = 10) -> Evaluation:
    """Recall@1/@10 of the labelled true pairs, and ECE (10 bins) over all labelled pairs (a
    pair not in its person's list was shown nothing: probability 0)."""
    i, _, known = _rows(prepared, labels)
    labels = labels.loc[known]
    if labels.empty:
        return Evaluation(0, 0, float("nan"), float("nan"), float("nan"))
    lists = _lists(model, prepared, np.unique(i), top_k)
    got = labels.merge(lists, on=["station_record_id", "report_id"], how="left")
    true = got[got["is_match"].astype(bool)]
    rank = true["rank"].fillna(np.inf)
    p = got["probability"].fillna(0.0).to_numpy()
    return Evaluation(int(len(true)), int(len(got)),
                      float((rank <= 1).mean()) if len(true) else float("nan"),
                      float((rank <= 10).mean()) if len(true) else float("nan"),
                      expected_calibration_error(p, got["is_match"].astype(bool).to_numpy()))


def fit(base: Model, prepared: Prepared, labels: pd.DataFrame, *, alpha: float = SMOOTHING_PAIRS,
        top_k: int = 10) -> tuple[Model, dict[str, int]]:
    """A new version from ``base`` (EM's model on today's data) and training labels."""
    i, j, known = _rows(prepared, labels)
    is_match = labels.loc[known, "is_match"].astype(bool).to_numpy()
    ctx = compare_mod.context(prepared)
    levels = compare_mod.compare(ctx, base.settings, i, j) if len(i) else np.zeros((0, len(base.settings.comparisons)), int)
    m = m_from_labels(base, levels[is_match], alpha) if is_match.any() else base.m
    model = replace(base, m=m, calibration=None, info={**base.info})
    calibration = None
    if known.sum() >= MIN_CALIBRATION_LABELS:
        lists = _lists(model, prepared, np.unique(i), top_k)
        got = labels.loc[known].merge(lists, on=["station_record_id", "report_id"], how="left")
        calibration = Calibration.fit(got["probability"].fillna(0.0).to_numpy(), got["is_match"].astype(bool).to_numpy())
    model = replace(model, calibration=calibration)
    counts = {"labels": int(known.sum()), "labels_true": int(is_match.sum()), "labels_false": int((~is_match).sum()),
              "labels_unknown_records": int((~known).sum()), "smoothing_pairs": int(alpha)}
    model.info.update({"trained_from_labels": counts})
    return model, counts


def not_worse(new: Evaluation, active: Evaluation) -> tuple[bool, str]:
    """Whether ``new`` may replace ``active``, and why, in one line."""
    if new.confirmed == 0 or np.isnan(new.recall_at_1):
        return False, "没有留出的已确认配对可供评估 (no held-out confirmed pairs to judge it on)"
    if np.isnan(active.recall_at_1):
        return True, "当前模型无法在留出标注上评估，新模型启用 (the active model could not be judged)"
    if new.recall_at_1 < active.recall_at_1 - RECALL_TOLERANCE:
        return False, (f"新模型首位召回率更低 {new.recall_at_1:.3f} < {active.recall_at_1:.3f} "
                       f"(recall@1 on held-out labels is lower)")
    if new.ece > active.ece + ECE_TOLERANCE:
        return False, f"新模型校准误差更大 {new.ece:.3f} > {active.ece:.3f} (calibration error on held-out labels is higher)"
    return True, (f"新模型不差于当前模型：首位召回率 {new.recall_at_1:.3f} ≥ {active.recall_at_1:.3f}，"
                  f"校准误差 {new.ece:.3f} (not worse on held-out labels)")


__all__ = ["Evaluation", "evaluate", "fit", "held_out", "m_from_labels", "not_worse"]
