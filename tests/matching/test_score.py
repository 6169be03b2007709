"""A pair's score is the prior plus the sum of its weights, exactly as the weights matrix sums."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunqin.ingest import ingest_files
from xunqin.matching import score as score_mod
from xunqin.matching.features import prepare
from xunqin.matching.pipeline import match

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@cache
def sample():  # type: ignore[no-untyped-def]
    result = ingest_files(stations=SAMPLE / "stations.csv", reports=SAMPLE / "reports.csv")
    return result.stations, result.reports


@pytest.mark.parametrize("n", list(range(1, 21)) + [33])
def test_row_sums_add_as_numpy_adds_a_row(n):
    # magnitudes from 1e-12 to 1e5: float64 sums of these are not exact, so only the same
    # order of additions gives the same bits
    rng = np.random.default_rng(n)
    matrix = (rng.normal(0, 5, (5_000, n)) * 10.0 ** rng.integers(-12, 6, (5_000, n))).astype(np.float32)
    want = matrix.sum(axis=1, dtype=np.float64)
    got = score_mod._row_sums((matrix[:, c].astype(np.float64) for c in range(n)), n, len(matrix))
    np.testing.assert_array_equal(got, want)


def test_score_is_the_prior_plus_the_weights_of_every_comparison():
    """On the sample's trained model and every station x report pair, including the levels
    weighed by name frequency; in chunks smaller than the pairs, so the chunks join too."""
    stations, reports = sample()
    model = match(stations, reports).model
    prepared = prepare(stations, reports)
    prepared.name_frequency = np.linspace(1e-6, 0.05, len(prepared.vocab))
    i, j = (a.ravel() for a in np.meshgrid(np.arange(prepared.stations.n), np.arange(prepared.reports.n), indexing="ij"))
    rng = np.random.default_rng(3)
    levels = np.column_stack([rng.integers(0, len(c.levels), len(i)) for c in model.settings.comparisons]).astype(np.int8)
    assert any(level.tf for c in model.settings.comparisons for level in c.levels)
    weights = score_mod.pair_weights(model, prepared, levels, i)
    want = weights.sum(axis=1, dtype=np.float64) + model.prior_weight
    got = score_mod.score(model, prepared, levels, i, chunk=len(i) // 3 + 1)
    np.testing.assert_array_equal(got, want)
    tf = [c for c, comparison in enumerate(model.settings.comparisons) if any(level.tf for level in comparison.levels)]
    assert len(set(weights[:, tf[0]].tolist())) > len(model.settings.comparisons[tf[0]].levels)  # frequencies used
    assert pd.Series(got).nunique() > 100
