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
