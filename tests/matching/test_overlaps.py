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


def _random_field(rng: np.random.Generator, n: int, most: int, wide_share: float) -> MultiValue:
    counts = rng.choice([0, 1, 1, 1, 2, 3], size=n)
    wide = rng.random(n) < wide_share
    counts[wide] = rng.integers(4, most + 1, size=int(wide.sum()))
    return _field([sorted(set(rng.integers(0, 12, size=c).tolist())) for c in counts])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("wide_share", [0.0, 0.005, 0.2])
def test_overlaps_in_slots_as_on_the_fields(seed: int, wide_share: float) -> None:
    from xunqin.matching.codes import overlaps_in_slots, slots

    rng = np.random.default_rng(seed)
    a, b = _random_field(rng, 40, 9, wide_share), _random_field(rng, 60, 9, wide_share)
    i, j = rng.integers(0, 40, size=3000), rng.integers(0, 60, size=3000)
    a_slots, b_slots = slots(a, -1), slots(b, -2)
    assert a_slots.values.shape[0] <= 4 and a_slots.values.dtype == np.int32
    got = overlaps_in_slots(a, a_slots, b, b_slots, i, j)
    want = overlaps(a, b, i, j)
    assert got.tolist() == want.tolist() and want.any() and not want.all()


def test_rows_with_more_values_than_slots_are_wide() -> None:
    from xunqin.matching.codes import slots

    field = _field([[1], [2, 3], [], [4], [5, 6, 7, 8, 9, 10], [1], [2], [3], [4], [5]] * 20)
    held = slots(field, -1)
    assert held.values.shape[0] == 4  # 10% hold two or more values: up to four slots
    assert held.wide.tolist() == [len(r) > 4 for r in ([[1], [2, 3], [], [4], [5, 6, 7, 8, 9, 10]] + [[0]] * 5) * 20]
    assert held.values[:, 1].tolist() == [2, 3, -1, -1]


def test_slots_keep_codes_past_int32() -> None:
    from xunqin.matching.codes import overlaps_in_slots, slots

    big = 2**31 + 5  # a national vocabulary may grow past int32: codes must not wrap
    a, b = _field([[big], [7]]), _field([[big - 2**32], [big]])
    a_slots, b_slots = slots(a, -1), slots(b, -2)
    got = overlaps_in_slots(a, a_slots, b, b_slots, np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert got.tolist() == [False, True, False]
