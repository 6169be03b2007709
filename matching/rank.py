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


def duplicate_groups(prepared: Prepared) -> np.ndarray:
    """Reports of the same person: same ID number, or same name, birth year and hometown county.

    Gender is left out on purpose: one relative fills it in, another leaves it blank.
    """
    rp = prepared.reports
    n = rp.n
    id_number = rp.values["id_number"]
    birth = np.floor(np.nan_to_num(rp.values["birth_year"], nan=-1)).astype(np.int64)
    frame = pd.DataFrame(
        {
            "id": id_number,
            "name": rp.values["name_clean"],
            "birth": birth,
            "home": rp.values["home_first"],
        }
    )
    by_id = np.where(id_number >= 0, frame.groupby("id").ngroup().to_numpy(), -1)
    usable = ((frame["name"] >= 0) & (frame["birth"] >= 0) & (frame["home"] >= 0)).to_numpy()
    by_fields = frame.groupby(["name", "birth", "home"]).ngroup().to_numpy()
    by_fields = np.where(usable, by_fields, -1)
    # reports joined through either grouping are one person: connected components over
    # report -> group-node edges
    n_id = int(by_id.max(initial=-1)) + 1
    n_fields = int(by_fields.max(initial=-1)) + 1
    rows = np.concatenate([np.flatnonzero(by_id >= 0), np.flatnonzero(by_fields >= 0)])
    nodes = np.concatenate([n + by_id[by_id >= 0], n + n_id + by_fields[by_fields >= 0]])
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
