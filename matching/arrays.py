"""Column arrays for the hot path: single values as numpy arrays, multi-values as CSR.

A multi-valued field ('|'-joined in the normalized tables: pinyin readings, aliases, candidate
place codes, mark tokens) becomes ``MultiValue(indptr, codes)`` with codes into one vocabulary
shared by both sides, so that "do these two rows share a value" is integer work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def unique_ints(values: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values.

    numpy 2's np.unique hashes before it sorts, several times slower than a plain sort on the
    tens of millions of pair codes blocking produces.
    """
    values = np.sort(values.astype(np.int64, copy=False))
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


@dataclass
class Room:
    """Buffers a field's arrays are the start of, with room after them: appending a night's rows
    fills the room instead of copying half a million rows' values."""

    indptr: np.ndarray  # int64, capacity rows + 1
    codes: np.ndarray  # int64, capacity values
    rows: int  # rows used
    values: int  # values used


@dataclass(frozen=True)
class MultiValue:
    indptr: np.ndarray  # int64, len n+1
    codes: np.ndarray  # int64 codes into the shared vocabulary
    room: Room | None = field(default=None, compare=False, repr=False)

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

    def take(self, rows: np.ndarray, room_rows: int = 0, room_values: int = 0) -> MultiValue:
        """The rows ``rows`` (in that order) as a new field, with room for that many more."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        out = with_room(len(rows), int(counts.sum()), room_rows, room_values)
        np.cumsum(counts, out=out.indptr[1:])
        if len(out.codes):
            offsets = np.arange(len(out.codes), dtype=np.int64) - np.repeat(out.indptr[:-1], counts)
            np.take(self.codes, np.repeat(starts, counts) + offsets, out=out.codes)
        return out

    def append(self, other: MultiValue) -> MultiValue:
        """This field's rows followed by ``other``'s (in the room after them when there is
        enough, and no other field was appended there since)."""
        room, n, size = self.room, self.n, len(self.codes)
        if (room is not None and room.rows == n and room.values == size
                and len(room.indptr) >= n + 1 + other.n and len(room.codes) >= size + len(other.codes)):
            room.indptr[n + 1: n + 1 + other.n] = self.indptr[-1] + other.indptr[1:]
            room.codes[size: size + len(other.codes)] = other.codes
            room.rows, room.values = n + other.n, size + len(other.codes)
            return MultiValue(room.indptr[: room.rows + 1], room.codes[: room.values], room)
        return MultiValue(np.concatenate([self.indptr, self.indptr[-1] + other.indptr[1:]]),
                          np.concatenate([self.codes, other.codes]))


def with_room(rows: int, values: int, room_rows: int, room_values: int) -> MultiValue:
    """An empty field of ``rows`` rows and ``values`` values (to be filled) with room after."""
    room = Room(np.zeros(rows + 1 + room_rows, dtype=np.int64), np.empty(values + room_values, dtype=np.int64),
                rows, values)
    return MultiValue(room.indptr[: rows + 1], room.codes[:values], room)


def loaded(indptr: np.ndarray, codes: np.ndarray, share: float) -> MultiValue:
    """A field read from a file (any integer dtype) as int64, with room for ``share`` more rows
    and values (a night's additions) after it."""
    rows, values = len(indptr) - 1, len(codes)
    out = with_room(rows, values, int(rows * share) + 64, int(values * share) + 256)
    out.indptr[:] = indptr
    out.codes[:] = codes
    return out


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


def _hash(strings: np.ndarray) -> np.ndarray:
    """64-bit hashes of strings (object array): pandas' SipHash, fixed key, in C."""
    return pd.util.hash_array(strings, categorize=False)


class Vocabulary:
    """String -> int code, shared by the station and report sides.

    A vocabulary read back from a snapshot finds codes through the sorted hashes of its strings
    (kept in the file) instead of a dict of every string: building that dict took longer than
    the rest of the snapshot's load, and a night encodes only its few new values.
    """

    def __init__(self) -> None:
        self._strings: list[str] = []  # code -> string
        self._index: dict[str, int] = {}  # string -> code, for codes not in the hashed part
        self._hashes: np.ndarray | None = None  # sorted distinct hashes of the hashed part
        self._hash_codes: np.ndarray | None = None  # their codes

    def __len__(self) -> int:
        return len(self._strings)

    @classmethod
    def from_strings(cls, strings: list[str], lookup: tuple[np.ndarray, np.ndarray] | None = None) -> Vocabulary:
        """A vocabulary whose code k is ``strings[k]`` (what :meth:`decode_table` gave);
        ``lookup`` is what :meth:`lookup_table` gave for it (saves building a dict)."""
        vocab = cls()
        vocab._strings = list(strings)
        if lookup is not None:
            hashes, codes = (np.asarray(lookup[0], dtype=np.uint64), np.asarray(lookup[1], dtype=np.int64))
            n = len(strings)
            if len(hashes) != n or len(codes) != n or (n and (codes.min() < 0 or codes.max() >= n)):
                raise ValueError("vocabulary lookup table does not fit its strings")
            if n > 1 and not bool(np.all(hashes[1:] > hashes[:-1])):
                lookup = None  # two strings share a hash (or the table is unsorted): use the dict
            else:
                # the table must be this hash function's: check a spread of entries
                sample = np.unique(np.linspace(0, n - 1, num=min(n, 64)).astype(np.int64)) if n else codes[:0]
                probe = np.empty(len(sample), dtype=object)
                probe[:] = [vocab._strings[c] for c in codes[sample].tolist()]
                if not np.array_equal(_hash(probe), hashes[sample]):
                    raise ValueError("vocabulary lookup table was made by another hash function")
                vocab._hashes, vocab._hash_codes = hashes, codes
                return vocab
        vocab._index = dict(zip(strings, range(len(strings))))
        if len(vocab._index) != len(strings):
            raise ValueError("vocabulary strings repeat")
        return vocab

    def _hashed_lookup(self, uniques: np.ndarray) -> np.ndarray:
        """Codes of ``uniques`` (object array) in the hashed part, -1 for the others."""
        out = np.full(len(uniques), -1, dtype=np.int64)
        if self._hashes is None or not len(self._hashes) or not len(uniques):
            return out
        wanted = _hash(uniques)
        pos = np.minimum(np.searchsorted(self._hashes, wanted), len(self._hashes) - 1)
        found = self._hashes[pos] == wanted
        codes = self._hash_codes[pos[found]]
        same = np.array([self._strings[c] for c in codes.tolist()], dtype=object) == uniques[found]
        out[np.flatnonzero(found)[same]] = codes[same]  # a hash alone could collide
        return out

    def encode(self, values: np.ndarray) -> np.ndarray:
        uniques, inverse = np.unique(values.astype(str), return_inverse=True)
        uniques = uniques.astype(object)
        mapped = self._hashed_lookup(uniques)
        index, strings = self._index, self._strings
        for k in np.flatnonzero(mapped < 0).tolist():
            value = uniques[k]
            code = index.get(value)
            if code is None:
                code = index[value] = len(strings)
                strings.append(value)
            mapped[k] = code
        return mapped[inverse]

    def code(self, value: str) -> int | None:
        found = int(self._hashed_lookup(np.array([value], dtype=object))[0])
        return found if found >= 0 else self._index.get(value)

    def strings_from(self, code: int) -> list[str]:
        """The strings of codes ``code`` and after (those added since a vocabulary of that size)."""
        return self._strings[code:]

    def decode_table(self) -> np.ndarray:
        table = np.empty(len(self._strings), dtype=object)
        table[:] = self._strings
        return table

    def lookup_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted hashes, codes) of every string, what :meth:`from_strings` takes back."""
        if self._hashes is not None and not self._index:
            return self._hashes, self._hash_codes
        # hash only the strings not hashed yet and merge them in: no full sort each night
        extra_codes = np.fromiter(self._index.values(), dtype=np.int64, count=len(self._index))
        extra = np.empty(len(extra_codes), dtype=object)
        extra[:] = list(self._index)
        hashes = _hash(extra)
        by = np.argsort(hashes, kind="stable")
        hashes, extra_codes = hashes[by], extra_codes[by]
        if self._hashes is None:
            return hashes, extra_codes
        at = np.searchsorted(self._hashes, hashes)
        return np.insert(self._hashes, at, hashes), np.insert(self._hash_codes, at, extra_codes)


def split_multi(series: pd.Series, vocab: Vocabulary) -> MultiValue:
    """'|'-joined strings (None/'' = no value) to a MultiValue.

    Values repeat heavily (place codes, common names), so each distinct string is split once.
    """
    n = len(series)
    text = series.astype("string").fillna("")
    row_codes, uniques = pd.factorize(text, sort=False)
    uniques = np.asarray(uniques, dtype=object)
    parts = [u.split("|") if u else [] for u in uniques]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    flat = np.fromiter((v for p in parts for v in p), dtype=object, count=int(lengths.sum()))
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
    text = series.astype("string").fillna("").to_numpy(dtype=object)
    out = np.full(len(text), -1, dtype=np.int64)
    has = text != ""
    if has.any():
        out[has] = vocab.encode(text[has])
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
