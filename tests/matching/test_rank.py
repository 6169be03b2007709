"""Ranking: a person reported twice takes one slot, and the other report is named beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xunqin.matching.features import prepare
from xunqin.matching.duplicates import duplicate_groups
from xunqin.matching.rank import rank

ID_A = "410123196003010024"
ID_B = "410123196505050031"


def _reports(rows):
    base = {"name_clean": None, "birth_date": pd.NaT, "birth_precision": None, "hometown_codes": None,
            "id_number": None, "gender": None}
    return pd.DataFrame([{**base, **r} for r in rows])


# (description, reports, ids expected in one group)
GROUPING = [
    ("same ID number, different wording", [
        {"report_id": "R1", "name_clean": "王秀英", "id_number": ID_A},
        {"report_id": "R2", "name_clean": "王秀瑛", "id_number": ID_A},
        {"report_id": "R3", "name_clean": "李桂兰", "id_number": ID_B}], {"R1", "R2"}),
    ("same name, birth year and county; one relative left gender blank", [
        {"report_id": "R1", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623", "gender": "女"},
        {"report_id": "R2", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-07-01"), "birth_precision": "year", "hometown_codes": "411623"},
        {"report_id": "R3", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411622"}], {"R1", "R2"}),
    ("one report with the ID, the other with the same fields", [
        {"report_id": "R1", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623", "id_number": ID_A},
        {"report_id": "R2", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623"},
        {"report_id": "R3", "name_clean": "王秀英", "birth_date": pd.Timestamp("1971-03-01"), "hometown_codes": "411623"}], {"R1", "R2"}),
    ("a chain: R1-R2 by ID, R2-R3 by fields, so all three", [
        {"report_id": "R1", "name_clean": "王秀瑛", "id_number": ID_A},
        {"report_id": "R2", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623", "id_number": ID_A},
        {"report_id": "R3", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623"},
        {"report_id": "R4", "name_clean": "李桂兰", "id_number": ID_B}], {"R1", "R2", "R3"}),
    ("no name, or no county: the fields do not group", [
        {"report_id": "R1", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623"},
        {"report_id": "R2", "birth_date": pd.Timestamp("1960-03-01"), "hometown_codes": "411623"},
        {"report_id": "R3", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01")},
        {"report_id": "R4", "name_clean": "王秀英", "birth_date": pd.Timestamp("1960-03-01")}], set()),
    ("two pairs stay two groups", [
        {"report_id": "R1", "name_clean": "王秀英", "id_number": ID_A},
        {"report_id": "R2", "name_clean": "李桂兰", "id_number": ID_B},
        {"report_id": "R3", "name_clean": "王秀英", "id_number": ID_A},
        {"report_id": "R4", "name_clean": "李桂兰", "id_number": ID_B}], {"R1", "R2", "R3", "R4"}),
]


@pytest.mark.parametrize("description,rows,together", GROUPING, ids=[g[0] for g in GROUPING])
def test_duplicate_groups(description, rows, together):
    reports = _reports(rows)
    prepared = prepare(pd.DataFrame([{"record_id": "S1"}]), reports)
    groups = pd.Series(duplicate_groups(prepared), index=reports["report_id"])
    grouped = {r for r in groups.index if (groups == groups[r]).sum() > 1}
    assert grouped == together, description
    if description.startswith("two pairs"):
        assert groups["R1"] == groups["R3"] != groups["R2"] == groups["R4"]


def test_a_duplicate_does_not_push_another_person_out_of_the_top_k():
    reports = _reports(GROUPING[0][1])
    prepared = prepare(pd.DataFrame([{"record_id": "S1"}]), reports)
    i = np.zeros(3, dtype=np.int64)
    j = np.array([0, 1, 2])
    ranked = rank(prepared, i, j, np.array([3.0, 2.5, 1.0]), top_k=2)
    ids = reports["report_id"].to_numpy()[j[ranked.pair_index]]
    assert list(ids) == ["R1", "R3"]
    assert list(ranked.rank) == [1, 2]
    assert list(ranked.duplicates) == ["R2", ""]


@pytest.mark.parametrize("top_k", [1, 3, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dropping_pairs_that_cannot_rank_keeps_the_same_top(seed, top_k):
    """The pre-selection by score bins gives what sorting every pair gives: random pairs with
    rounded (tied) scores, persons reported many times, and records with very few pairs."""
    from xunqin.matching.rank import _contenders, _top_groups_sorted, top_groups

    rng = np.random.default_rng(seed)
    n = 20_000
    i = np.sort(rng.integers(0, 300, n))
    j = rng.integers(0, 5_000, n)
    total = np.round(rng.normal(0, 8, n), 1)
    groups = j // rng.choice([1, 1, 7], n)  # about a third of the reports share a group with others
    # one record whose best 40 pairs are one person, then others below
    heavy = i == i[0]
    groups[np.flatnonzero(heavy)[:40]] = 10**6
    total[np.flatnonzero(heavy)[:40]] = 50.0
    keep = _contenders(i, total, groups, top_k)
    assert keep is not None and len(keep) < n / 2  # it did drop pairs
    got = top_groups(i, j, total, groups, top_k)
    want = _top_groups_sorted(i, j, total, groups, top_k)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert (groups[got[0][i[got[0]] == i[0]]] == 10**6).sum() == 1
