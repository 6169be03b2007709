"""Vocabulary: a vocabulary read back with its hash lookup table must code every string exactly
as the dict-built one it was saved from, and keep doing so as nights add strings, even when
hashes collide."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching import arrays
from xunqin.matching.arrays import Vocabulary

BASE = ["zhang|wei", "张伟", "", "b1950", "g1", "g2", "flag", "wang", "王", "a", "ab", "b", "李秀英", "zzz"]


def _fresh(strings: list[str]) -> Vocabulary:
    vocab = Vocabulary()
    for s in strings:  # one at a time: codes follow first appearance, as in prepare
        vocab.encode(np.array([s], dtype=object))
    return vocab


def _reloaded(vocab: Vocabulary) -> Vocabulary:
    return Vocabulary.from_strings(vocab.decode_table().tolist(), vocab.lookup_table())


@pytest.mark.parametrize("batches", [
    [["wang", "王"]],  # all held
    [["新", "wang", "aa"]],  # new and held mixed
    [["0"], ["~~~"], ["张伟伟", "张"]],  # below the first, above the last, next to a held one
    [["x", "x", "y"], ["y", "x", "z"]],  # repeats inside and across nights
    [[]],
])
@pytest.mark.parametrize("weak_hash", [False, True])
def test_reloaded_vocabulary_codes_as_the_dict_built_one(batches, weak_hash, monkeypatch):
    if weak_hash:  # every string of one length shares a hash: lookups must still be exact
        monkeypatch.setattr(arrays, "_hash", lambda a: np.array([len(x) for x in a], dtype=np.uint64))
    want = _fresh(BASE)
    got = _reloaded(_fresh(BASE))
    for batch in batches:
        values = np.array(batch, dtype=object)
        assert got.encode(values).tolist() == want.encode(values).tolist()
        assert len(got) == len(want)
        assert got.decode_table().tolist() == want.decode_table().tolist()
        # the order written after this night reads back to the same codes
        got = _reloaded(got)
        assert [got.code(s) for s in want.decode_table()] == list(range(len(want)))
    assert got.code("never seen") is None


def test_lookup_table_is_the_sorted_hashes_after_additions():
    vocab = _reloaded(_fresh(BASE))
    vocab.encode(np.array(["m", "张", "0", "zzzz"], dtype=object))
    hashes, codes = vocab.lookup_table()
    assert np.all(np.diff(hashes.astype(np.float64)) >= 0) and sorted(codes.tolist()) == list(range(len(vocab)))
    assert np.array_equal(hashes, arrays._hash(vocab.decode_table()[codes]))


@pytest.mark.parametrize("damage", ["short", "code_out_of_range", "other_hash"])
def test_a_lookup_table_that_does_not_fit_is_refused(damage):
    strings = ["a", "b", "c"]
    hashes, codes = Vocabulary.from_strings(strings).lookup_table()
    if damage == "short":
        hashes, codes = hashes[:2], codes[:2]
    elif damage == "code_out_of_range":
        codes = codes.copy()
        codes[0] = 3
    else:
        hashes = np.arange(3, dtype=np.uint64)
    with pytest.raises(ValueError):
        Vocabulary.from_strings(strings, (hashes, codes))


def test_repeated_strings_are_refused_with_or_without_order():
    with pytest.raises(ValueError):
        Vocabulary.from_strings(["a", "a"])
    with pytest.raises(ValueError):  # equal strings hash alike: the dict path refuses them
        Vocabulary.from_strings(["a", "a"], (arrays._hash(np.array(["a", "a"], dtype=object)), np.array([0, 1])))


def test_a_new_string_whose_hash_a_held_one_has_gets_its_own_code(monkeypatch):
    monkeypatch.setattr(arrays, "_hash", lambda a: np.array([len(x) for x in a], dtype=np.uint64))
    vocab = _reloaded(_fresh(["a", "bb", "ccc"]))  # lengths differ: the hashed lookup serves
    assert vocab._hashes is not None
    assert vocab.encode(np.array(["x", "bb", "yy", "ccc"], dtype=object)).tolist() == [3, 1, 4, 2]
    again = _reloaded(vocab)  # now two strings share each hash
    assert [again.code(s) for s in ["a", "bb", "ccc", "x", "yy"]] == [0, 1, 2, 3, 4]
    assert again.encode(np.array(["yy", "zzz"], dtype=object)).tolist() == [4, 5]
