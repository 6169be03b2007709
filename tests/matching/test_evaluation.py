"""Hand-computed metric tables for xunqin.matching.evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xunqin.matching.evaluation import (
    RankingMetrics,
    average_precision,
    metrics_by_group,
    pair_completeness,
    ranking_metrics,
)


def cands(rows: list[tuple]) -> pd.DataFrame:
    """rows: (station, report, rank[, score])."""
    cols = ["station_record_id", "report_id", "rank", "score"]
    rows = [r if len(r) == 4 else (*r, 0.0) for r in rows]
    return pd.DataFrame(rows, columns=cols)


def truth(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["station_record_id", "report_id"])


def approx_or_nan(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


# (candidates, truth, k, station_ids, (n, r@1, r@k, mrr))
RANKING_CASES = [
    pytest.param(
        [("S1", "R1", 1), ("S1", "R9", 2), ("S2", "R8", 1), ("S2", "R7", 2),
         ("S2", "R6", 3), ("S2", "R2", 4), ("S3", "R5", 1)],
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3")],
        10, None, (3, 1 / 3, 2 / 3, (1 + 0.25) / 3),
        id="brief-example-ranks-1-4-missing",
    ),
    pytest.param(
        [("S1", "R1", 1), ("S2", "R2", 4)],
        [("S1", "R1"), ("S2", "R2")],
        3, None, (2, 0.5, 0.5, 0.5),
        id="rank-beyond-k-is-a-miss-for-recall-and-mrr",
    ),
    pytest.param(
        # Duplicate reports of one person: the first true one (rank 2) counts.
        [("S1", "Rx", 1), ("S1", "R1b", 2), ("S1", "R1a", 5)],
        [("S1", "R1a"), ("S1", "R1b")],
        10, None, (1, 0.0, 1.0, 0.5),
        id="several-true-reports-best-rank-counts-once",
    ),
    pytest.param(
        [("S1", "R1", 1), ("S2", "R2", 1)],
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3")],
        10, ["S2", "S3", "S99"], (2, 0.5, 0.5, 0.5),
        id="station-ids-restrict-queries-unknown-ids-ignored",
    ),
    pytest.param(
        [("S1", "R1", 1)], [("S1", "R1")], 10, [], (0, math.nan, math.nan, math.nan),
        id="empty-restriction-no-queries-nan",
    ),
    pytest.param(
        [], [], 10, None, (0, math.nan, math.nan, math.nan), id="all-empty",
    ),
    pytest.param(
        # Candidates for stations without truth do not create queries.
        [("S1", "R1", 1), ("S5", "R5", 1), ("S6", "R6", 1)],
        [("S1", "R1")],
        10, None, (1, 1.0, 1.0, 1.0),
        id="no-truth-stations-not-queries",
    ),
    pytest.param(
        # Same pair listed twice (rank 7 and 2): best rank wins.
        [("S1", "R1", 7), ("S1", "R1", 2)],
        [("S1", "R1"), ("S1", "R1")],
        10, None, (1, 0.0, 1.0, 0.5),
        id="duplicated-pairs-in-both-tables",
    ),
    pytest.param(
        # Truth ids as int, candidate ids as str: still joined.
        [("101", "9001", 3)],
        [(101, 9001)],
        10, None, (1, 0.0, 1.0, 1 / 3),
        id="int-vs-str-ids",
    ),
    pytest.param(
        # Null ids and invalid ranks (0, NaN) are ignored, not counted as hits.
        [("S1", "R1", 0), ("S2", "R2", np.nan), (None, "R3", 1), ("S4", "R4", 1)],
        [("S1", "R1"), ("S2", "R2"), ("S4", "R4"), (None, "R5")],
        10, None, (3, 1 / 3, 1 / 3, 1 / 3),
        id="hostile-ranks-and-null-ids",
    ),
    pytest.param(
        [("S1", "R1", 1)], [("S1", "R1")], 1, None, (1, 1.0, 1.0, 1.0), id="k-equals-1",
    ),
    pytest.param(
        # Rank given as float strings from a CSV round-trip.
        [("S1", "R1", "2"), ("S2", "R2", "10"), ("S3", "R3", "11")],
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3")],
        10, None, (3, 0.0, 2 / 3, (0.5 + 0.1) / 3),
        id="ranks-as-strings-boundary-k",
    ),
]


@pytest.mark.parametrize("cand_rows, truth_rows, k, station_ids, want", RANKING_CASES)
def test_ranking_metrics(cand_rows, truth_rows, k, station_ids, want):
    got = ranking_metrics(cands(cand_rows), truth(truth_rows), k=k, station_ids=station_ids)
    assert isinstance(got, RankingMetrics)
    assert got.n_queries == want[0]
    assert approx_or_nan(got.recall_at_1, want[1])
    assert approx_or_nan(got.recall_at_10, want[2])
    assert approx_or_nan(got.mrr, want[3])


@pytest.mark.parametrize(
    "bad_cand, bad_truth, k",
    [
        (pd.DataFrame({"station_record_id": [], "report_id": []}), truth([]), 10),
        (cands([]), pd.DataFrame({"station_record_id": []}), 10),
        (cands([]), truth([]), 0),
    ],
    ids=["candidates-without-rank", "truth-without-report", "k-zero"],
)
def test_ranking_metrics_rejects_bad_input(bad_cand, bad_truth, k):
    with pytest.raises(ValueError):
        ranking_metrics(bad_cand, bad_truth, k=k)


def test_ranking_metrics_is_frozen():
    m = ranking_metrics(cands([("S1", "R1", 1)]), truth([("S1", "R1")]))
    with pytest.raises(AttributeError):
        m.mrr = 0.0  # type: ignore[misc]


# (scored pairs (station, report, rank, score), truth, expected AP)
AP_CASES = [
    pytest.param(
        [("S1", "R1", 1, 0.9), ("S1", "Rx", 2, 0.8), ("S2", "R2", 1, 0.7)],
        [("S1", "R1"), ("S2", "R2")],
        (1.0 + 2 / 3) / 2,
        id="true-false-true",
    ),
    pytest.param(
        [("S1", "R1", 1, 0.9), ("S2", "R2", 1, 0.8)],
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3"), ("S4", "R4")],
        0.5,
        id="unscored-true-pairs-are-misses",
    ),
    pytest.param(
        [("S1", "Rx", 1, 5.0), ("S1", "Ry", 2, 4.0), ("S1", "R1", 3, 3.0)],
        [("S1", "R1")],
        1 / 3,
        id="single-true-at-third",
    ),
    pytest.param(
        # Tie between a true and a false pair: one threshold with precision 1/2,
        # whatever the row order.
        [("S1", "Rx", 1, 2.0), ("S1", "R1", 2, 2.0)],
        [("S1", "R1")],
        0.5,
        id="tie-is-order-independent",
    ),
    pytest.param(
        [("S1", "R1", 1, 2.0), ("S1", "Rx", 2, 2.0)],
        [("S1", "R1")],
        0.5,
        id="tie-other-row-order",
    ),
    pytest.param(
        # Negative match weights are fine; NaN score ignored; duplicate keeps max.
        [("S1", "R1", 1, -1.0), ("S1", "R1", 1, -5.0), ("S1", "Rx", 2, -3.0),
         ("S2", "R2", 1, np.nan)],
        [("S1", "R1"), ("S2", "R2")],
        0.5,
        id="negative-nan-and-duplicate-scores",
    ),
    pytest.param([], [("S1", "R1")], 0.0, id="nothing-scored"),
    pytest.param([("S1", "R1", 1, 1.0)], [], math.nan, id="no-truth-nan"),
    pytest.param(
        [("S1", "Rx", 1, 1.0)], [("S1", "R1")], 0.0, id="only-false-pairs",
    ),
]


@pytest.mark.parametrize("scored_rows, truth_rows, want", AP_CASES)
def test_average_precision(scored_rows, truth_rows, want):
    got = average_precision(cands(scored_rows), truth(truth_rows))
    assert approx_or_nan(got, want)


def test_average_precision_matches_bruteforce_on_random_data():
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame(
        {
            "station_record_id": [f"S{i}" for i in range(n)],
            "report_id": [f"R{i}" for i in range(n)],
            "score": rng.normal(size=n),  # no ties
        }
    )
    is_true = rng.random(n) < 0.2
    t = df.loc[is_true, ["station_record_id", "report_id"]]
    extra_missing = truth([("S_missing1", "R_m1"), ("S_missing2", "R_m2")])
    t = pd.concat([t, extra_missing], ignore_index=True)
    order = np.argsort(-df["score"].to_numpy())
    hits = is_true[order]
    precision = np.cumsum(hits) / np.arange(1, n + 1)
    want = precision[hits].sum() / len(t)
    assert average_precision(df, t) == pytest.approx(want)


# (pairs, truth, expected completeness)
PC_CASES = [
    pytest.param(
        truth([("S1", "R1"), ("S1", "R2"), ("S2", "R9")]),
        [("S1", "R1"), ("S2", "R2")], 0.5, id="frame-half",
    ),
    pytest.param(
        pd.MultiIndex.from_tuples([("S1", "R1"), ("S2", "R2")]),
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3"), ("S4", "R4")], 0.5,
        id="multiindex-unnamed-levels-in-order",
    ),
    pytest.param(
        pd.MultiIndex.from_tuples(
            [("R1", "S1"), ("R3", "S3")], names=["report_id", "station_record_id"]
        ),
        [("S1", "R1"), ("S2", "R2"), ("S3", "R3")], 2 / 3,
        id="multiindex-named-levels-swapped",
    ),
    pytest.param(
        truth([("R1", "S1")]), [("S1", "R1")], 0.0, id="swapped-columns-do-not-match",
    ),
    pytest.param(truth([]), [("S1", "R1")], 0.0, id="no-pairs"),
    pytest.param(truth([("S1", "R1")]), [], math.nan, id="no-truth"),
    pytest.param(
        truth([("S1", "R1"), ("S1", "R1"), ("S2", "R2")]),
        [("S1", "R1"), ("S1", "R1")], 1.0, id="duplicates-counted-once",
    ),
    pytest.param(
        pd.MultiIndex.from_arrays([[1, 2], [10, 20]]),
        [("1", "10"), ("2", "99")], 0.5, id="int-multiindex-vs-str-truth",
    ),
]


@pytest.mark.parametrize("pairs, truth_rows, want", PC_CASES)
def test_pair_completeness(pairs, truth_rows, want):
    assert approx_or_nan(pair_completeness(pairs, truth(truth_rows)), want)


def test_pair_completeness_rejects_three_level_index():
    idx = pd.MultiIndex.from_tuples([("a", "b", "c")])
    with pytest.raises(ValueError):
        pair_completeness(idx, truth([("a", "b")]))


def test_metrics_by_group_hand_computed():
    c = cands(
        [("S1", "R1", 1), ("S2", "Rx", 1), ("S2", "R2", 3), ("S3", "Ry", 1),
         ("S4", "R4", 12), ("S5", "R5", 2)]
    )
    t = pd.DataFrame(
        {
            "station_record_id": ["S1", "S2", "S3", "S4", "S5"],
            "report_id": ["R1", "R2", "R3", "R4", "R5"],
            "name_category": ["full", "full", "placeholder", "placeholder", None],
        }
    )
    got = metrics_by_group(c, t)
    assert list(got.columns) == ["name_category", "n", "recall_at_1", "recall_at_10", "mrr"]
    assert got["name_category"].tolist()[:2] == ["full", "placeholder"]
    assert pd.isna(got["name_category"].iloc[2])
    assert got["n"].tolist() == [2, 2, 1]
    assert got["recall_at_1"].tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert got["recall_at_10"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    assert got["mrr"].tolist() == pytest.approx([(1 + 1 / 3) / 2, 0.0, 0.5])


@pytest.mark.parametrize(
    "k, want_col, want_recall",
    [
        (1, "recall_at_1", [1.0, 0.0]),
        (3, "recall_at_3", [1.0, 1.0]),
        (2, "recall_at_2", [1.0, 0.0]),
    ],
)
def test_metrics_by_group_k_names_column(k, want_col, want_recall):
    c = cands([("S1", "R1", 1), ("S2", "R2", 3)])
    t = pd.DataFrame(
        {"station_record_id": ["S1", "S2"], "report_id": ["R1", "R2"], "g": ["a", "b"]}
    )
    got = metrics_by_group(c, t, group_col="g", k=k)
    assert want_col in got.columns
    assert list(got.columns).count("recall_at_1") == 1
    assert got[want_col].tolist() == pytest.approx(want_recall)


def test_metrics_by_group_per_report_groups():
    # One station, two true reports from different sources: each source group is a
    # query judged on its own report only.
    c = cands([("S1", "Rpol", 1), ("S1", "Rfam", 15)])
    t = pd.DataFrame(
        {"station_record_id": ["S1", "S1"], "report_id": ["Rpol", "Rfam"],
         "source": ["公安", "家属"]}
    )
    got = metrics_by_group(c, t, group_col="source").set_index("source")
    assert got.loc["公安", "recall_at_10"] == 1.0
    assert got.loc["家属", "recall_at_10"] == 0.0


def test_metrics_by_group_agrees_with_ranking_metrics_overall():
    rng = np.random.default_rng(3)
    stations = [f"S{i}" for i in range(300)]
    t = pd.DataFrame(
        {"station_record_id": stations, "report_id": [f"R{i}" for i in range(300)],
         "g": rng.choice(["full", "nickname", "placeholder"], 300)}
    )
    true_rank = rng.integers(1, 20, 300)
    c = pd.DataFrame(
        {"station_record_id": stations, "report_id": t["report_id"], "rank": true_rank}
    )
    by = metrics_by_group(c, t, group_col="g")
    overall = ranking_metrics(c, t)
    assert by["n"].sum() == overall.n_queries == 300
    assert (by["recall_at_10"] * by["n"]).sum() / 300 == pytest.approx(overall.recall_at_10)
    assert (by["mrr"] * by["n"]).sum() / 300 == pytest.approx(overall.mrr)


def test_metrics_by_group_empty_truth_and_missing_column():
    empty = metrics_by_group(cands([]), truth([]).assign(name_category=[]))
    assert empty.empty and "recall_at_10" in empty.columns
    with pytest.raises(ValueError):
        metrics_by_group(cands([]), truth([("S1", "R1")]))  # no name_category column


def test_ranking_metrics_vectorized_scale():
    # 200k candidate rows must be handled quickly (no per-row Python).
    n_st, per = 20_000, 10
    st = np.repeat(np.arange(n_st).astype(str), per)
    rep = np.arange(n_st * per).astype(str)
    c = pd.DataFrame({"station_record_id": st, "report_id": rep,
                      "rank": np.tile(np.arange(1, per + 1), n_st)})
    t = c[c["rank"] == 2][["station_record_id", "report_id"]]
    m = ranking_metrics(c, t)
    assert m.n_queries == n_st and m.recall_at_1 == 0.0 and m.mrr == pytest.approx(0.5)
