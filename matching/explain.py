"""Evidence for each ranked candidate: per comparison, the level reached and its weight in bits.

The columns make a waterfall: ``prior_weight`` plus every ``<comparison>_weight`` adds up to
``score``; ``evidence`` says the same in one line a reviewer can read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import Model


def evidence_frame(model: Model, levels: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    parts = []
    for c, comparison in enumerate(model.settings.comparisons):
        labels = np.asarray(comparison.labels, dtype=object)[levels[:, c]]
        w = np.round(weights[:, c].astype(float), 2)
        columns[f"{comparison.name}_level"] = labels
        columns[f"{comparison.name}_weight"] = w
        text = np.char.add(
            np.char.add(f"{comparison.name}=", labels.astype(str)),
            np.char.add("(", np.char.add(np.char.mod("%+.1f", w), ")")),
        )
        parts.append(np.where(labels == "null", "", text))
    frame = pd.DataFrame(columns)
    frame.insert(0, "prior_weight", round(model.prior_weight, 2))
    if parts:
        stacked = np.stack(parts, axis=1)
        frame["evidence"] = [" ".join(p for p in row if p) for row in stacked]
    return frame
