"""Vocabulary: a vocabulary read back from its strings must code every string exactly as the
one it was saved from, and keep doing so as nights add strings; codes once given never move."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching.codes import Vocabulary

BASE = ["zhang|wei", "张伟", "", "b1950", "g1", "g2", "flag", "wang", "王", "a", "ab", "b", "李秀英", "zzz"]


def _fresh(strings: list[str]) -> Vocabulary:
    vocab = Vocabulary()
    for s in strings:  # one at a time: codes follow first appearance, as in prepare
        vocab.encode(np.array([s], dtype=object))
    return vocab


def _reloaded(vocab: Vocabulary) -> Vocabulary:
    """What a snapshot's load gives: the strings by code, as saved."""
    return Vocabulary.from_strings(vocab.decode_table().tolist())


@pytest.mark.parametrize("batches", [
    [["wang", "王"]],  # all held
    [["新", "wang", "aa"]],  # new and held mixed
    [["0"], ["~~~"], ["张伟伟", "张"]],  # below the first, above the last, next to a held one
    [["x", "x", "y"], ["y", "x", "z"]],  # repeats inside and across nights
    [[]],
])
def test_reloaded_vocabulary_codes_as_the_one_it_was_saved_from(batches):
    want = _fresh(BASE)
    got = _reloaded(_fresh(BASE))
    assert got.decode_table().tolist() == BASE
    for batch in batches:
        values = np.array(batch, dtype=object)
        assert got.encode(values).tolist() == want.encode(values).tolist()
        assert len(got) == len(want)
        assert got.decode_table().tolist() == want.decode_table().tolist()
        got = _reloaded(got)  # the order written after this night reads back to the same codes
        assert got.encode(want.decode_table()).tolist() == list(range(len(want)))


def test_codes_held_never_move_and_new_strings_come_in_sorted_order():
    vocab = _reloaded(_fresh(BASE))
    codes = vocab.encode(np.array(["李", "wang", "阿", "a", "李", "0"], dtype=object))
    n = len(BASE)
    # new strings get the next codes in sorted order, whatever the row order
    assert codes.tolist() == [n + 1, BASE.index("wang"), n + 2, BASE.index("a"), n + 1, n]
    assert vocab.decode_table().tolist() == BASE + ["0", "李", "阿"]
    again = vocab.encode(np.array(["阿", "0"], dtype=object))
    assert again.tolist() == [n + 2, n] and len(vocab) == n + 3


def test_decode_table_follows_additions():
    vocab = _reloaded(_fresh(BASE))
    before = vocab.decode_table()
    vocab.encode(np.array(["new"], dtype=object))
    assert len(before) == len(BASE) and vocab.decode_table().tolist() == BASE + ["new"]


def test_repeated_strings_are_refused():
    with pytest.raises(ValueError):
        Vocabulary.from_strings(["a", "b", "a"])


def test_a_missing_value_has_no_code():
    vocab = Vocabulary()
    with pytest.raises(ValueError, match="missing"):
        vocab.encode(np.array(["a", None], dtype=object))
    assert len(vocab) == 0
