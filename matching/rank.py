"""Scoring (match weights, with term-frequency adjustment) and top-K ranking per station record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .model import M_FLOOR, Model
from .prepare import Prepared


def pair_weights(model: Model, prepared: Prepared, levels: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Contribution of every comparison to every pair, in bits (float32: pairs x comparisons).

    A level with ``tf`` set is weighed against how common the station's value is among reports:
    agreeing on 王秀英 counts less than agreeing on a rare name.
    """
    tables = model.weight_table()
    weights = np.empty(levels.shape, dtype=np.float32)
    floor = prepared.tf_floor
    for c, comparison in enumerate(model.settings.comparisons):
        weights[:, c] = tables[c][levels[:, c]]
        for k, level in enumerate(comparison.levels):
            if level.tf is None:
                continue
            at = np.flatnonzero(levels[:, c] == k)
            codes = prepared.stations.values[level.tf][i[at]]
            frequency = np.where(codes >= 0, prepared.name_frequency[np.maximum(codes, 0)], 0.0)
            m = max(model.m[comparison.name][k], M_FLOOR)
            weights[at, c] = np.log2(m / np.maximum(frequency, floor))
    return weights


def score(model: Model, prepared: Prepared, levels: np.ndarray, i: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """Prior plus every contribution: log2 odds, comparable across station records."""
    total = np.empty(len(levels), dtype=np.float64)
    for start in range(0, len(levels), chunk):
        stop = start + chunk
        weights = pair_weights(model, prepared, levels[start:stop], i[start:stop])
        total[start:stop] = weights.sum(axis=1, dtype=np.float64) + model.prior_weight
    return total


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


@dataclass(frozen=True)
class Ranked:
    pair_index: np.ndarray  # positions into the scored pairs, ranked rows only
    rank: np.ndarray
    duplicates: np.ndarray  # object: '|'-joined other report ids of the same person


def top_groups(i: np.ndarray, j: np.ndarray, total: np.ndarray, groups: np.ndarray, top_k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """(positions, rank) of each station record's best ``top_k`` pairs, a person reported twice
    taking one slot: the best pair of each duplicate group (``groups`` per pair), best score
    first, equal scores by report row. Taking the top of each report shard first and then
    the top of their union gives the same pairs (a group in the overall top is in its shard's)."""
    order = np.lexsort((j, -total, i))
    first = ~pd.DataFrame({"i": i[order], "g": groups[order]}).duplicated().to_numpy()
    kept = order[first]
    rank_in_station = pd.Series(i[kept]).groupby(i[kept]).cumcount().to_numpy() + 1
    top = rank_in_station <= top_k
    return kept[top], rank_in_station[top]


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


def rank(
    prepared: Prepared, i: np.ndarray, j: np.ndarray, total: np.ndarray, top_k: int
) -> Ranked:
    """Best first per station record; a person reported twice takes one slot, not two."""
    groups = duplicate_groups(prepared)
    kept, ranks = top_groups(i, j, total, groups[j], top_k)
    ids = prepared.reports.ids
    return Ranked(kept, ranks, duplicate_text(groups[j[kept]], j[kept], groups, lambda rows: ids[rows]))
