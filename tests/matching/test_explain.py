"""Evidence lines: each comparison's level and weight, in codes and in Chinese, written once per
(level, weight) pair; every row must read as if written alone, odd weights included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunqin.matching.explain import CHINESE_EVIDENCE, COMPARISON_TEXT, LEVEL_TEXT, evidence_frame
from xunqin.matching.pipeline import match

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    from xunqin.ingest import ingest_files

    tables = ingest_files(SAMPLE / "stations.csv", SAMPLE / "reports.csv")
    return match(tables.stations, tables.reports).model


def _written_alone(model, levels: np.ndarray, weights: np.ndarray) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """The evidence of each row by itself: what the page and the CSV promise."""
    codes, chinese = [], []
    for row_levels, row_weights in zip(levels.tolist(), weights.tolist()):
        parts, parts_zh = [], []
        for comparison, level, weight in zip(model.settings.comparisons, row_levels, row_weights):
            label = comparison.labels[level]
            if label == "null":
                continue
            shown = f"{round(weight, 2):+.1f}"
            parts.append(f"{comparison.name}={label}({shown})")
            level_zh = LEVEL_TEXT.get(comparison.name, {}).get(label, label)
            parts_zh.append(f"{COMPARISON_TEXT.get(comparison.name, comparison.name)}：{level_zh}（{shown}）")
        codes.append(" ".join(parts))
        chinese.append("；".join(parts_zh))
    return codes, chinese


def test_every_row_reads_as_if_written_alone(model) -> None:  # type: ignore[no-untyped-def]
    comparisons = model.settings.comparisons
    rng = np.random.default_rng(11)
    n = 3_000
    levels = np.stack([rng.integers(0, len(c.labels), n) for c in comparisons], axis=1).astype(np.int8)
    weights = rng.normal(0, 6, (n, len(comparisons))).astype(np.float32)
    # weights whose text is easy to get wrong: signed zeros, halves that round either way
    odd = np.array([-0.0, 0.0, 0.05, -0.05, 0.049, -0.049, 0.25, 0.35, 12.345, -7.999], dtype=np.float32)
    weights[: len(odd) * 20] = np.repeat(odd, 20)[:, None]
    levels[::7, 0] = list(comparisons[0].labels).index("null") if "null" in comparisons[0].labels else 0
    frame = evidence_frame(model, levels, weights)
    codes, chinese = _written_alone(model, levels, np.round(weights.astype(float), 2))
    assert frame["evidence"].tolist() == codes
    assert frame[CHINESE_EVIDENCE].tolist() == chinese
    for c, comparison in enumerate(comparisons):
        assert frame[f"{comparison.name}_level"].tolist() == [comparison.labels[k] for k in levels[:, c]]
        assert np.array_equal(frame[f"{comparison.name}_weight"].to_numpy(), np.round(weights[:, c].astype(float), 2))


def test_no_candidates_give_the_columns_and_no_rows(model) -> None:  # type: ignore[no-untyped-def]
    k = len(model.settings.comparisons)
    frame = evidence_frame(model, np.zeros((0, k), dtype=np.int8), np.zeros((0, k), dtype=np.float32))
    assert len(frame) == 0 and {"evidence", CHINESE_EVIDENCE, "prior_weight"} <= set(frame.columns)
    assert isinstance(frame, pd.DataFrame)
