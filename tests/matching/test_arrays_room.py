"""Fields with room after them: appending fills the room instead of copying, and must give what a
plain copy gives, without ever changing a field another holder still reads."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching.arrays import MultiValue, loaded, with_room


def _field(rows: list[list[int]]) -> MultiValue:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    return MultiValue(indptr, np.array([c for r in rows for c in r], dtype=np.int64))


def _rows(m: MultiValue) -> list[list[int]]:
    return [m.codes[m.indptr[k]:m.indptr[k + 1]].tolist() for k in range(m.n)]


BASE = [[1, 2], [], [3], [4, 5, 6]]
ADDS = [
    [[7]],
    [[], [8, 9]],
    [[1] * 300],  # more values than the room holds: copied instead
    [[2]] * 200,  # more rows than the room holds: copied instead
    [],
]


@pytest.mark.parametrize("add", ADDS)
@pytest.mark.parametrize("start", ["loaded_int32", "loaded_int64", "taken_with_room", "plain"])
def test_append_gives_the_rows_of_both(start, add):
    base = _field(BASE)
    if start == "loaded_int32":
        field = loaded(base.indptr.astype(np.int32), base.codes.astype(np.int32), 0.0)
    elif start == "loaded_int64":
        field = loaded(base.indptr, base.codes, 0.5)
    elif start == "taken_with_room":
        field = _field(BASE + [[99]]).take(np.arange(4), room_rows=3, room_values=4)
    else:
        field = base
    got = field.append(_field(add))
    assert _rows(got) == BASE + add
    assert got.codes.dtype == np.int64 and got.indptr.dtype == np.int64


def test_a_second_append_to_the_same_field_copies_and_leaves_the_first_alone():
    field = loaded(_field(BASE).indptr, _field(BASE).codes, 1.0)
    first = field.append(_field([[7, 8]]))
    assert np.shares_memory(first.codes, field.codes)  # filled the room, no copy
    second = field.append(_field([[9]]))  # the room after `field` is first's now
    assert _rows(first) == BASE + [[7, 8]]
    assert _rows(second) == BASE + [[9]]
    assert not np.shares_memory(second.codes, first.codes)
    third = first.append(_field([[5]]))  # first is the room's tail: fills on
    assert np.shares_memory(third.codes, first.codes) and _rows(third) == BASE + [[7, 8], [5]]
    assert _rows(first) == BASE + [[7, 8]]


@pytest.mark.parametrize("rows", [[0, 2], [3, 0, 3], [], [1]])
def test_take_with_room_takes_the_rows(rows):
    got = _field(BASE).take(np.array(rows, dtype=np.int64), room_rows=2, room_values=2)
    assert _rows(got) == [BASE[r] for r in rows]
    assert _rows(got.append(_field([[6], [7]]))) == [BASE[r] for r in rows] + [[6], [7]]


def test_with_room_is_an_empty_field_of_that_size():
    m = with_room(3, 5, 10, 10)
    assert m.n == 3 and len(m.codes) == 5 and m.indptr.tolist() == [0, 0, 0, 0]
