"""Multi-valued fields: taking rows and appending fields keep each row's values."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching.codes import MultiValue


def _field(rows: list[list[int]]) -> MultiValue:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    return MultiValue(indptr, np.array([c for r in rows for c in r], dtype=np.int64))


def _rows(m: MultiValue) -> list[list[int]]:
    return [m.codes[m.indptr[k]:m.indptr[k + 1]].tolist() for k in range(m.n)]


BASE = [[1, 2], [], [3], [4, 5, 6]]
ADDS = [[[7]], [[], [8, 9]], [[1] * 300], [[2]] * 200, []]


@pytest.mark.parametrize("add", ADDS)
def test_append_gives_the_rows_of_both(add):
    got = _field(BASE).append(_field(add))
    assert _rows(got) == BASE + add
    assert got.codes.dtype == np.int64 and got.indptr.dtype == np.int64


def test_appending_twice_to_one_field_leaves_each_result_alone():
    field = _field(BASE)
    first = field.append(_field([[7, 8]]))
    second = field.append(_field([[9]]))
    assert _rows(first) == BASE + [[7, 8]] and _rows(second) == BASE + [[9]] and _rows(field) == BASE


@pytest.mark.parametrize("rows", [[0, 2], [3, 0, 3], [], [1]])
def test_take_takes_the_rows(rows):
    got = _field(BASE).take(np.array(rows, dtype=np.int64))
    assert _rows(got) == [BASE[r] for r in rows]
    assert _rows(got.append(_field([[6], [7]]))) == [BASE[r] for r in rows] + [[6], [7]]


@pytest.mark.parametrize("start, stop", [(0, 4), (1, 3), (2, 2), (3, 4), (0, 0), (4, 4)])
def test_a_row_range_holds_those_rows_without_copying_their_codes(start, stop):
    field = _field(BASE)
    got = field.row_range(start, stop)
    assert _rows(got) == BASE[start:stop]
    assert int(got.indptr[0]) == 0 and int(got.indptr[-1]) == len(got.codes)
    assert len(got.codes) == 0 or np.shares_memory(got.codes, field.codes)
