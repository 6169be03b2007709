"""Scoring (match weights, with term-frequency adjustment) and top-K ranking per station record."""

from __future__ import annotations

from dataclasses import dataclass

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


def duplicate_groups(prepared: Prepared) -> np.ndarray:
    """Reports of the same person: same ID number, or same name, birth year and hometown county.

    Gender is left out on purpose: one relative fills it in, another leaves it blank. A label
    per report; reports of one person share it. Only keys two reports share make edges: the
    graph is small though every report is labelled.
    """
    rp = prepared.reports
    n = rp.n
    birth = np.floor(np.nan_to_num(rp.values["birth_year"], nan=-1)).astype(np.int64)
    id_rows, id_groups = _shared_groups(rp.values["id_number"].astype(np.int64))
    field_rows, field_groups = _shared_groups(_fields_key(rp.values["name_clean"].astype(np.int64), birth,
                                                          rp.values["home_first"].astype(np.int64)))
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


def rank(
    prepared: Prepared, i: np.ndarray, j: np.ndarray, total: np.ndarray, top_k: int
) -> Ranked:
    """Best first per station record; a person reported twice takes one slot, not two."""
    order = np.lexsort((-total, i))
    # position within the station's run of sorted pairs; keep a margin for duplicates dropped below
    sorted_i = i[order]
    run_start = np.flatnonzero(np.r_[True, sorted_i[1:] != sorted_i[:-1]])
    position = np.arange(len(order)) - np.repeat(run_start, np.diff(np.r_[run_start, len(order)]))
    shortlist = order[position < 3 * top_k]
    groups = duplicate_groups(prepared)
    frame = pd.DataFrame({"i": i[shortlist], "g": groups[j[shortlist]]})
    kept = shortlist[~frame.duplicated(["i", "g"]).to_numpy()]
    rank_in_station = pd.Series(i[kept]).groupby(i[kept]).cumcount().to_numpy() + 1
    top = rank_in_station <= top_k
    kept, ranks = kept[top], rank_in_station[top]
    kept_groups = groups[j[kept]]
    sizes = np.bincount(groups, minlength=len(groups))
    dup_text = np.full(len(kept), "", dtype=object)
    ids = prepared.reports.ids
    shared = np.flatnonzero(sizes[kept_groups] > 1)
    if len(shared):
        needed = np.isin(groups, kept_groups[shared])
        members = pd.Series(ids[needed]).groupby(groups[needed]).agg(list)
        for pos in shared:
            own = ids[j[kept[pos]]]
            dup_text[pos] = "|".join(r for r in members[kept_groups[pos]] if r != own)
    return Ranked(kept, ranks, dup_text)
