"""Reports of one person (same ID number, or same name, birth year and hometown): the labels
that let a person reported twice take one slot in a ranked list, and the text naming the others."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .features import Prepared


def _shared_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, group) of the rows whose key (>= 0) another row holds too; groups numbered 0..."""
    rows = np.flatnonzero(key >= 0)
    codes, _ = pd.factorize(key[rows])
    shared = np.bincount(codes)[codes] > 1
    rows, codes = rows[shared], codes[shared]
    _, group = np.unique(codes, return_inverse=True)
    return rows, group.astype(np.int64)


def _fields_key(name: np.ndarray, birth: np.ndarray, home: np.ndarray) -> np.ndarray:
    """One int64 per (name, birth year, hometown) with all three known, -1 otherwise."""
    usable = (name >= 0) & (birth >= 0) & (home >= 0)
    spans = [int(v.max(initial=0)) + 1 for v in (birth, home)]
    if int(name.max(initial=0)) + 1 > np.iinfo(np.int64).max // (spans[0] * spans[1]):
        # too wide to pack (never at real sizes): number the triples instead
        frame = pd.DataFrame({"n": name, "b": birth, "h": home})
        return np.where(usable, frame.groupby(["n", "b", "h"]).ngroup().to_numpy(), -1)
    packed = (name * spans[0] + birth) * spans[1] + home
    return np.where(usable, packed, -1)


def group_keys(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The two keys that make reports one person: the ID number and (name, birth year,
    hometown county), as int64 codes of these prepared tables (-1 where not usable)."""
    rp = prepared.reports
    birth = np.floor(np.nan_to_num(rp.values["birth_year"], nan=-1)).astype(np.int64)
    return (rp.values["id_number"].astype(np.int64),
            _fields_key(rp.values["name_clean"].astype(np.int64), birth, rp.values["home_first"].astype(np.int64)))


def hashed_group_keys(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """:func:`group_keys` as 63-bit hashes of the values (pandas' hash), the same in every
    report shard whatever its vocabulary; -1 where not usable. Two different values share a
    hash with a chance of about n²/2⁶³ (2·10⁻⁷ for 2 million reports)."""
    rp = prepared.reports
    strings = prepared.vocab.decode_table()
    out = []
    for key, parts in zip(group_keys(prepared), (("id_number",), ("name_clean", "birth_year", "home_first"))):
        usable = key >= 0
        text = pd.Series(strings[np.maximum(rp.values[parts[0]], 0)], dtype=object)
        if len(parts) > 1:
            birth = np.floor(np.nan_to_num(rp.values["birth_year"], nan=-1)).astype(np.int64)
            text = text + "\x1f" + pd.Series(birth).astype(str) + "\x1f" + pd.Series(
                strings[np.maximum(rp.values["home_first"], 0)], dtype=object)
        hashed = (pd.util.hash_array(text.to_numpy(dtype=object)) >> np.uint64(1)).astype(np.int64)
        out.append(np.where(usable, hashed, -1))
    return out[0], out[1]


def duplicate_groups(prepared: Prepared) -> np.ndarray:
    """Reports of the same person: same ID number, or same name, birth year and hometown county.

    Gender is left out on purpose: one relative fills it in, another leaves it blank. A label
    per report; reports of one person share it.
    """
    return duplicate_labels(*group_keys(prepared))


def duplicate_labels(id_key: np.ndarray, fields_key: np.ndarray) -> np.ndarray:
    """A label per report from its two keys (-1: not usable): reports joined through either
    key, directly or through a chain, share it. Only keys two reports share make edges: the
    graph is small though every report is labelled."""
    n = len(id_key)
    id_rows, id_groups = _shared_groups(id_key)
    field_rows, field_groups = _shared_groups(fields_key)
    # reports joined through either grouping are one person: connected components over
    # report -> group-node edges
    n_id = int(id_groups.max(initial=-1)) + 1
    n_fields = int(field_groups.max(initial=-1)) + 1
    rows = np.concatenate([id_rows, field_rows])
    nodes = np.concatenate([n + id_groups, n + n_id + field_groups])
    size = n + n_id + n_fields
    graph = coo_matrix((np.ones(len(rows)), (rows, nodes)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[:n]


def duplicate_text(kept_groups: np.ndarray, own_rows: np.ndarray, labels: np.ndarray,
                   report_ids: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Per kept pair, the '|'-joined ids of the other reports of its person (all reports held,
    compared or not); ``report_ids(rows)`` gives the ids of report rows."""
    dup_text = np.full(len(kept_groups), "", dtype=object)
    sizes = np.bincount(labels, minlength=int(labels.max(initial=-1)) + 1)
    shared = np.flatnonzero(sizes[kept_groups] > 1)
    if len(shared):
        needed = np.flatnonzero(np.isin(labels, kept_groups[shared]))
        members = pd.Series(report_ids(needed)).groupby(labels[needed]).agg(list)
        own_ids = report_ids(own_rows[shared])
        for pos, own in zip(shared, own_ids):
            dup_text[pos] = "|".join(r for r in members[kept_groups[pos]] if r != own)
    return dup_text
