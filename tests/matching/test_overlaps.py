"""overlaps: for each pair, does the station row share a value with the report row."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching.codes import MultiValue, overlaps


def _field(rows: list[list[int]]) -> MultiValue:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    return MultiValue(indptr, np.array([c for r in rows for c in r], dtype=np.int64))


STATIONS = [[1, 2], [], [3], [4, 5, 6], [7]]
REPORTS = [[2, 9], [3], [], [6, 4], [8, 1, 7, 5]]


@pytest.mark.parametrize("i,j", [
    ([0, 0, 0, 0, 0], [0, 1, 2, 3, 4]),  # a station row against every report row
    ([0, 1, 2, 3, 4], [4, 4, 4, 4, 4]),  # every station row against one report row
    ([3, 3, 2, 2, 4, 1], [3, 4, 1, 0, 4, 2]),  # repeats, empty rows on either side
    ([], []),
])
def test_overlaps_is_set_intersection_per_pair(i, j):
    got = overlaps(_field(STATIONS), _field(REPORTS), np.array(i, dtype=np.int64), np.array(j, dtype=np.int64))
    want = [bool(set(STATIONS[a]) & set(REPORTS[b])) for a, b in zip(i, j)]
    assert got.tolist() == want
