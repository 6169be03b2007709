"""Benchmark metrics for candidate lists (pure pandas/numpy, vectorized).

Vocabulary:
- candidates: one row per proposed pair, columns ``station_record_id``, ``report_id``,
  ``rank`` (1 = best within the station record) and usually ``score``.
- truth: one row per true pair, columns ``station_record_id``, ``report_id``. A station
  record may have several true reports (the same person reported twice); finding ANY of
  them counts as a hit.
- query: a station record that has at least one true report.

All functions take ids as given but compare them as strings, so an id read as int in one
table and as str in the other still joins (ids that are missing are ignored).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

STATION = "station_record_id"
REPORT = "report_id"
PAIR_COLS = (STATION, REPORT)


@dataclass(frozen=True)
class RankingMetrics:
    """Ranking quality over queries; metrics are NaN when there is no query."""

    n_queries: int
    recall_at_1: float
    recall_at_10: float  # recall at the ``k`` passed to ranking_metrics (10 by default)
    mrr: float


def _require(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s): {', '.join(missing)}")


def _pairs_as_str(df: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """Copy of the pair columns (+extra) with null ids dropped and ids as str."""
    cols = [*PAIR_COLS, *extra]
    out = df.loc[:, cols].dropna(subset=list(PAIR_COLS))
    # Cast once; ids repeat a lot, so astype(str) on object columns is cheap enough.
    out[STATION] = out[STATION].astype(str)
    out[REPORT] = out[REPORT].astype(str)
    return out


def _truth_pairs(truth: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    _require(truth, [*PAIR_COLS, *extra], "truth")
    return _pairs_as_str(truth, extra).drop_duplicates(subset=list(PAIR_COLS))


def _candidate_ranks(candidates: pd.DataFrame) -> pd.DataFrame:
    _require(candidates, [*PAIR_COLS, "rank"], "candidates")
    cand = _pairs_as_str(candidates, ["rank"])
    cand["rank"] = pd.to_numeric(cand["rank"], errors="coerce")
    cand = cand[cand["rank"] >= 1]  # also drops NaN ranks
    # A pair listed twice keeps its best rank.
    return cand.groupby(list(PAIR_COLS), as_index=False, sort=False)["rank"].min()


def _first_true_rank(
    candidates: pd.DataFrame, truth: pd.DataFrame, query_cols: list[str]
) -> pd.DataFrame:
    """One row per query (``query_cols``) with ``first_rank`` (NaN when no true report
    was proposed)."""
    queries = truth[query_cols].drop_duplicates()
    hits = truth.merge(_candidate_ranks(candidates), on=list(PAIR_COLS), how="inner")
    best = hits.groupby(query_cols, as_index=False, dropna=False)["rank"].min()
    out = queries.merge(best, on=query_cols, how="left")
    return out.rename(columns={"rank": "first_rank"})


def _summarise(first_rank: pd.Series, k: int) -> tuple[int, float, float, float]:
    n = int(first_rank.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    r = first_rank.to_numpy(dtype=float)
    found = ~np.isnan(r)
    at1 = float(np.count_nonzero(found & (r <= 1)) / n)
    atk = float(np.count_nonzero(found & (r <= k)) / n)
    # MRR@k: a true report ranked below k counts as a miss, so systems that emit
    # longer lists are not rewarded for it.
    rr = np.where(found & (r <= k), 1.0 / np.where(found, r, 1.0), 0.0)
    return n, at1, atk, float(rr.mean())


def ranking_metrics(
    candidates: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int = 10,
    station_ids: Iterable[str] | None = None,
) -> RankingMetrics:
    """Recall@1, recall@k and MRR@k over station records that have a true report.

    ``station_ids`` restricts the queries (e.g. to one station or one test split);
    ids in it without a true report are not queries. ``recall_at_10`` holds recall@k.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    t = _truth_pairs(truth)
    if station_ids is not None:
        keep = pd.Index([str(s) for s in station_ids if s is not None])
        t = t[t[STATION].isin(keep)]
    first = _first_true_rank(candidates, t, [STATION])
    n, at1, atk, mrr = _summarise(first["first_rank"], k)
    return RankingMetrics(n_queries=n, recall_at_1=at1, recall_at_10=atk, mrr=mrr)


def average_precision(scored_pairs: pd.DataFrame, truth: pd.DataFrame) -> float:
    """AP of all scored pairs ranked by score (descending) against the true pairs.

    True pairs that were never scored count as misses (the recall denominator is the
    number of true pairs). Tied scores form one threshold, as in
    ``sklearn.metrics.average_precision_score``, so the result does not depend on row
    order. A pair scored twice keeps its highest score; NaN scores are ignored.
    Returns NaN when there is no true pair.
    """
    _require(scored_pairs, [*PAIR_COLS, "score"], "scored_pairs")
    t = _truth_pairs(truth)
    n_true = len(t)
    if n_true == 0:
        return math.nan
    s = _pairs_as_str(scored_pairs, ["score"])
    s["score"] = pd.to_numeric(s["score"], errors="coerce")
    s = s.dropna(subset=["score"])
    s = s.groupby(list(PAIR_COLS), as_index=False, sort=False)["score"].max()
    if s.empty:
        return 0.0
    s = s.merge(t, on=list(PAIR_COLS), how="left", indicator=True)
    is_true = (s["_merge"] == "both").to_numpy()
    # Per distinct score (descending): true pairs and all pairs at that threshold.
    per = (
        pd.DataFrame({"score": s["score"].to_numpy(), "tp": is_true, "n": 1})
        .groupby("score", sort=True)[["tp", "n"]]
        .sum()
        .iloc[::-1]
    )
    tp = per["tp"].to_numpy(dtype=float)
    cum_tp = np.cumsum(tp)
    cum_n = np.cumsum(per["n"].to_numpy(dtype=float))
    return float(np.sum((tp / n_true) * (cum_tp / cum_n)))


def pair_completeness(pairs: pd.DataFrame | pd.MultiIndex, truth: pd.DataFrame) -> float:
    """Share of true pairs present in ``pairs`` (blocking recall).

    ``pairs`` is a frame with the pair columns or a 2-level MultiIndex as produced by
    recordlinkage indexers (levels named like the pair columns, else taken in order
    station, report). NaN when there is no true pair.
    """
    if isinstance(pairs, pd.MultiIndex):
        if pairs.nlevels != 2:
            raise ValueError("pairs MultiIndex must have 2 levels (station, report)")
        names = list(pairs.names)
        if set(names) == set(PAIR_COLS):
            st, rp = pairs.get_level_values(STATION), pairs.get_level_values(REPORT)
        else:
            st, rp = pairs.get_level_values(0), pairs.get_level_values(1)
        pairs = pd.DataFrame({STATION: np.asarray(st), REPORT: np.asarray(rp)})
    _require(pairs, PAIR_COLS, "pairs")
    t = _truth_pairs(truth)
    if t.empty:
        return math.nan
    p = _pairs_as_str(pairs).drop_duplicates()
    found = t.merge(p, on=list(PAIR_COLS), how="inner")
    return float(len(found) / len(t))


def metrics_by_group(
    candidates: pd.DataFrame,
    truth: pd.DataFrame,
    group_col: str = "name_category",
    k: int = 10,
) -> pd.DataFrame:
    """Recall@1, recall@k, MRR@k and query count per value of ``truth[group_col]``.

    A query is a (station record, group value) pair: when the true reports of one
    station record carry different group values, each group is scored on its own
    reports only. Missing group values form their own group (NaN). Columns:
    ``group_col, n, recall_at_1, recall_at_{k}, mrr``, sorted by group value.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    t = _truth_pairs(truth, [group_col])
    rk = f"recall_at_{k}"
    # A dict, so k == 1 does not produce the recall_at_1 column twice.
    agg = {
        "n": ("n", "sum"),
        "recall_at_1": ("recall_at_1", "mean"),
        rk: (rk, "mean"),
        "mrr": ("mrr", "mean"),
    }
    cols = [group_col, *agg]
    if t.empty:
        return pd.DataFrame(columns=cols)
    first = _first_true_rank(candidates, t, [STATION, group_col])
    r = first["first_rank"]
    found_k = r.le(k)  # NaN -> False
    frame = pd.DataFrame(
        {
            group_col: first[group_col],
            "n": 1,
            "recall_at_1": r.le(1).astype(float),
            rk: found_k.astype(float),
            "mrr": np.where(found_k, 1.0 / r.fillna(1.0), 0.0),
        }
    )
    out = frame.groupby(group_col, dropna=False, sort=False).agg(**agg)
    out = out.reset_index().sort_values(group_col, na_position="last", kind="stable")
    out["n"] = out["n"].astype(int)
    return out.reset_index(drop=True)[cols]
