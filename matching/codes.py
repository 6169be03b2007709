"""Column arrays for the hot path: single values as numpy arrays, multi-values as CSR.

A multi-valued field ('|'-joined in the normalized tables: pinyin readings, aliases, candidate
place codes, mark tokens) becomes ``MultiValue(indptr, codes)`` with codes into one vocabulary
shared by both sides, so that "do these two rows share a value" is integer work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def unique_ints(values: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values.

    numpy 2's np.unique hashes before it sorts, several times slower than a plain sort on the
    tens of millions of pair codes blocking produces. The stable sort (timsort) merges runs
    already in order, as the union of the passes' sorted codes is: 3x faster there, the same
    on random values.
    """
    values = np.sort(values.astype(np.int64, copy=False), kind="stable")
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


@dataclass(frozen=True)
class MultiValue:
    indptr: np.ndarray  # int64, len n+1
    codes: np.ndarray  # int64 codes into the shared vocabulary

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def has_any(self) -> np.ndarray:
        return self.counts() > 0

    def rows_of_values(self) -> np.ndarray:
        """Row index of every stored value (the exploded row ids)."""
        return np.repeat(np.arange(self.n, dtype=np.int64), self.counts())

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values of ``rows`` exploded: (position in ``rows``, code), vectorized."""
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
        # value k of the output sits at its row's start + (k - where that row's run begins)
        index = (starts - np.cumsum(counts) + counts)[owner]
        index += np.arange(len(owner), dtype=np.int64)
        return owner, np.take(self.codes, index)

    def union(self, other: MultiValue) -> MultiValue:
        """Row-wise union of two fields over the same rows (e.g. name keys and alias keys)."""
        rows = np.concatenate([self.rows_of_values(), other.rows_of_values()])
        codes = np.concatenate([self.codes, other.codes])
        return from_pairs(rows, codes, self.n)

    def take(self, rows: np.ndarray) -> MultiValue:
        """The rows ``rows`` (in that order) as a new field."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        offsets = np.arange(int(indptr[-1]), dtype=np.int64) - np.repeat(indptr[:-1], counts)
        return MultiValue(indptr, np.take(self.codes, np.repeat(starts, counts) + offsets))

    def row_range(self, start: int, stop: int) -> MultiValue:
        """Rows ``start .. stop - 1``; their codes are a view of this field's."""
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        return MultiValue(self.indptr[start:stop + 1] - first, self.codes[first:last])

    def append(self, other: MultiValue) -> MultiValue:
        """This field's rows followed by ``other``'s."""
        return MultiValue.concat([self, other])

    @staticmethod
    def concat(fields: Sequence[MultiValue], keep: Sequence[np.ndarray | None] | None = None) -> MultiValue:
        """The fields' rows in order, of each field the rows where its ``keep`` (bool per row,
        None: every row) holds: one copy into the result, however many fields (a field taken
        and then appended was copied twice). A single field kept whole is returned as it is."""
        keep = list(keep) if keep is not None else [None] * len(fields)
        if len(fields) == 1 and keep[0] is None and len(fields[0].codes) == int(fields[0].indptr[-1]):
            return fields[0]
        counts = [np.diff(f.indptr) if k is None else np.diff(f.indptr)[k] for f, k in zip(fields, keep)]
        indptr = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
        np.cumsum(np.concatenate(counts), out=indptr[1:])
        codes = np.empty(int(indptr[-1]), dtype=np.int64)
        at = 0
        for f, k, c in zip(fields, keep, counts):
            held = f.codes[: int(f.indptr[-1])]
            size = int(c.sum())
            if k is None:
                codes[at:at + size] = held
            else:
                np.compress(np.repeat(k, np.diff(f.indptr)), held, out=codes[at:at + size])
            at += size
        return MultiValue(indptr, codes)


def from_pairs(rows: np.ndarray, codes: np.ndarray, n: int) -> MultiValue:
    """Build a MultiValue from (row, code) pairs, dropping duplicates within a row."""
    if len(rows):
        key = unique_ints(rows.astype(np.int64) * (int(codes.max()) + 1) + codes)
        span = int(codes.max()) + 1
        rows, codes = key // span, key % span
    counts = np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return MultiValue(indptr, codes.astype(np.int64))


class Vocabulary:
    """String -> int code, shared by the station and report sides. Code k is the k-th string
    added and never changes after: a snapshot refreshed with a night's rows keeps its codes.

    The strings a vocabulary was made with (a snapshot's, read back) are a ``pd.Index``, whose
    hash table answers lookups; the strings added since are in a dict (a night adds a few
    thousand, a build from scratch all of them).
    """

    def __init__(self, strings: Sequence[str] | np.ndarray = ()) -> None:
        self._held = pd.Index(np.asarray(strings, dtype=object), dtype=object)  # codes 0 .. len-1
        if not self._held.is_unique:
            raise ValueError("vocabulary strings repeat")
        self._added: dict[str, int] = {}  # string -> code, for the strings added since
        self._table: np.ndarray | None = None  # decode_table(), until a string is added

    def __len__(self) -> int:
        return len(self._held) + len(self._added)

    @classmethod
    def from_strings(cls, strings: Sequence[str] | np.ndarray) -> Vocabulary:
        """The vocabulary whose code k is ``strings[k]`` (what :meth:`decode_table` gave)."""
        return cls(strings)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Codes of ``values`` (strings); a string not held yet gets the next code (new strings
        in sorted order, so that codes do not depend on row order within a call)."""
        row_codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        if len(row_codes) and row_codes.min() < 0:
            raise ValueError("vocabulary values must be strings (a missing value has no code)")
        uniques = np.asarray(uniques, dtype=object)
        mapped = self._held.get_indexer(uniques) if len(self._held) else np.full(len(uniques), -1, dtype=np.int64)
        missing = np.flatnonzero(mapped < 0)
        if len(missing):
            values = uniques[missing].tolist()
            added = self._added
            known = np.fromiter((added.get(v, -1) for v in values), dtype=np.int64, count=len(values))
            fresh = np.flatnonzero(known < 0)
            if len(fresh):
                # pyarrow sorts strings in C (UTF-8 byte order is code point order, as Python's)
                fresh = fresh[pc.array_sort_indices(pa.array(uniques[missing[fresh]], type=pa.string())).to_numpy()]
                first = len(self._held) + len(added)
                known[fresh] = np.arange(first, first + len(fresh), dtype=np.int64)
                added.update(zip(uniques[missing[fresh]].tolist(), range(first, first + len(fresh))))
                self._table = None
            mapped[missing] = known
        return mapped.astype(np.int64, copy=False)[row_codes]

    def decode_table(self) -> np.ndarray:
        """Code -> string, as an object array."""
        if self._table is None:
            self._table = np.concatenate([self._held.to_numpy(dtype=object),
                                          np.fromiter(self._added, dtype=object, count=len(self._added))])
        return self._table


def text_values(series: pd.Series) -> np.ndarray:
    """A column as an object array of ``str``, '' where missing: what
    ``series.astype("string").fillna("")`` gives, without pandas' string dtype, whose checks
    per element and iteration in Python were a fifth of preparing size M's reports."""
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()  # to_numpy may hand out the frame's own array
        values[missing] = ""
    if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        return series.astype("string").fillna("").to_numpy(dtype=object)  # numbers and such as text
    return values


def distinct_texts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, distinct texts): ``uniques[codes]`` is :func:`text_values` of the column.

    Missing cells are found by the factorization itself (their code is that of an appended
    ''), and only the distinct values are looked at for their type: at M, looking at every
    cell for missing values cost 1.1 s of preparing. Two codes may hold the same text only
    when a number and its digits as text are both in the column."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), sort=False)
    uniques = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(uniques, skipna=False) not in ("string", "empty"):
        uniques = pd.Series(uniques, dtype=object).astype("string").fillna("").to_numpy(dtype=object)
    missing = codes < 0
    if missing.any():
        empty = np.flatnonzero(uniques == "")
        codes[missing] = empty[0] if len(empty) else len(uniques)
        if not len(empty):
            uniques = np.append(uniques, np.array([""], dtype=object))
    return codes, uniques


def per_distinct(series: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """``fn`` of each row's text (see :func:`text_values`), worked out once per distinct text."""
    row_codes, uniques = distinct_texts(series)
    table = np.empty(len(uniques), dtype=object)
    table[:] = [fn(u) for u in uniques]
    return pd.Series(table[row_codes], index=series.index, dtype=object)


def split_multi(series: pd.Series, vocab: Vocabulary) -> MultiValue:
    """'|'-joined strings (None/'' = no value) to a MultiValue.

    Values repeat heavily (place codes, common names), so each distinct string is split once.
    """
    n = len(series)
    row_codes, uniques = distinct_texts(series)
    # one join and one split for all of them: a list per distinct string cost 2.2 s at M
    lengths = np.fromiter((u.count("|") + 1 if u else 0 for u in uniques), dtype=np.int64, count=len(uniques))
    held = uniques[lengths > 0]
    flat = np.array("|".join(held).split("|") if len(held) else [], dtype=object)
    keep = flat != ""
    owner = np.repeat(np.arange(len(uniques), dtype=np.int64), lengths)[keep]
    per_unique = from_pairs(owner, vocab.encode(flat[keep]) if keep.any() else owner, len(uniques))
    if not n:
        return per_unique
    owners, codes = per_unique.gather(row_codes.astype(np.int64))
    counts = np.bincount(owners, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return MultiValue(indptr, codes)


def single(series: pd.Series, vocab: Vocabulary) -> np.ndarray:
    """A single-valued string column to codes, -1 where missing."""
    row_codes, uniques = distinct_texts(series)
    has = uniques != ""
    per_unique = np.full(len(uniques), -1, dtype=np.int64)
    if has.any():
        per_unique[has] = vocab.encode(uniques[has])
    return per_unique[row_codes]


# Rows of a field as slots: at most this many, and enough that only this share of rows holds more.
MAX_SLOTS = 4
WIDE_SHARE = 0.01


@dataclass(frozen=True)
class Slots:
    """A field's values in a fixed number of slots per row, slot by slot (``values[s]`` holds
    every row's s-th value, ``fill`` where it has none): "do two rows share a value" is then a
    few comparisons of gathered int32 columns. Rows holding more values than slots are ``wide``
    and compared on the field itself."""

    values: np.ndarray  # int32 (int64 for a vocabulary past int32's range): (slots, rows)
    wide: np.ndarray  # bool per row


def slots(field: MultiValue, fill: int) -> Slots:
    """:class:`Slots` of ``field``; ``fill`` (negative) stands for no value."""
    counts = field.counts()
    width = 1
    while width < MAX_SLOTS and (counts > width).mean() > WIDE_SHARE:
        width += 1
    small = not len(field.codes) or int(field.codes.max()) <= np.iinfo(np.int32).max
    values = np.full((width, field.n), fill, dtype=np.int32 if small else np.int64)
    rows = field.rows_of_values()
    rank = np.arange(len(rows), dtype=np.int64) - np.repeat(field.indptr[:-1], counts)
    held = rank < width
    values[rank[held], rows[held]] = field.codes[: len(rows)][held]
    return Slots(values, counts > width)


def overlaps_in_slots(a: MultiValue, a_slots: Slots, b: MultiValue, b_slots: Slots, i: np.ndarray, j: np.ndarray
                      ) -> np.ndarray:
    """:func:`overlaps` through the fields' slots (their fills differ, so that no value is
    shared by two empty slots); pairs holding a wide row go through :func:`overlaps`."""
    b_values = [column[j] for column in b_slots.values]
    out = np.zeros(len(i), dtype=bool)
    for column in a_slots.values:
        mine = column[i]
        for theirs in b_values:
            out |= mine == theirs
    wide = np.flatnonzero(a_slots.wide[i] | b_slots.wide[j])
    if len(wide):
        out[wide] = overlaps(a, b, i[wide], j[wide])
    return out


def overlaps(a: MultiValue, b: MultiValue, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """For each pair (i[k], j[k]): does row i of ``a`` share a value with row j of ``b``?

    Each value of row i is compared with the few values of row j (rows hold one to three
    values): linear in those, where a binary search over all of ``b``'s values was not.
    """
    out = np.zeros(len(i), dtype=bool)
    if not len(i) or not len(b.codes) or not len(a.codes):
        return out
    owner, codes = a.gather(i)
    rows = j[owner]
    starts = b.indptr[rows]
    counts = b.indptr[rows + 1] - starts
    query = np.repeat(np.arange(len(owner), dtype=np.int64), counts)
    index = (starts - np.cumsum(counts) + counts)[query]
    index += np.arange(len(query), dtype=np.int64)
    hit = np.take(b.codes, index) == codes[query]
    out[owner[query[hit]]] = True
    return out
