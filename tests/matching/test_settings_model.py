"""Settings round-trip as data; the model round-trips as readable JSON; EM finds the matches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xunqin.matching.model import Model, estimate_u, train
from xunqin.matching.settings import Settings, default_settings


def test_settings_round_trip_json_and_yaml():
    settings = default_settings()
    assert Settings.from_text(settings.to_json()) == settings
    assert Settings.from_text(settings.to_yaml()) == settings


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d["comparisons"][0]["levels"].pop(0), "null"),
        (lambda d: d["comparisons"][0]["levels"].pop(), "else"),
        (lambda d: d["comparisons"][1]["levels"][1].update(when="no_such_predicate"), "unknown condition"),
        (lambda d: d["comparisons"][1]["levels"][2].update(label="same"), "duplicate"),
    ],
)
def test_settings_refuse_malformed_comparisons(mutate, message):
    raw = default_settings().to_dict()
    mutate(raw)
    with pytest.raises(ValueError, match=message):
        Settings.from_dict(raw)


def _synthetic_levels(settings: Settings, n_match: int, n_non: int, seed: int = 1):
    """Levels drawn from known m (matches) and u (non-matches) per comparison.

    Station persons: the first ``n_match`` pairs are each one person's match; the non-matches
    are spread over those persons and as many again who have no match at all.
    """
    rng = np.random.default_rng(seed)
    truth_m, truth_u, columns_m, columns_u = {}, {}, [], []
    for comparison in settings.comparisons:
        k = len(comparison.levels)
        m = np.linspace(1, 0.2, k - 1) ** 2  # matches favour the early (agreeing) levels
        u = np.linspace(0.2, 1, k - 1) ** 2
        m, u = m / m.sum(), u / u.sum()
        truth_m[comparison.name], truth_u[comparison.name] = m, u
        columns_m.append(rng.choice(np.arange(1, k), n_match, p=m))
        columns_u.append(rng.choice(np.arange(1, k), n_non, p=u))
    blocked = np.vstack([np.stack(columns_m, 1), np.stack(columns_u, 1)]).astype(np.int8)
    persons = np.concatenate([np.arange(n_match), rng.integers(0, max(2 * n_match, 1), n_non)])
    return blocked, persons, truth_m, truth_u


def test_em_recovers_m_and_the_match_share():
    settings = default_settings()
    blocked, persons, truth_m, truth_u = _synthetic_levels(settings, 2_000, 18_000)
    random_levels, _, _, _ = _synthetic_levels(settings, 0, 50_000, seed=2)
    model = train(settings, blocked, persons, random_levels)
    # half the station persons who have candidates have their match among them
    assert model.info["station_records_with_a_match"] == pytest.approx(2_000 / len(np.unique(persons)), abs=0.05)
    assert model.match_share == pytest.approx(0.1, abs=0.02)
    for name, m in truth_m.items():
        np.testing.assert_allclose(model.m[name][1:], m, atol=0.05)
    u = estimate_u(settings, random_levels)
    for name, expected in truth_u.items():
        np.testing.assert_allclose(u[name][1:], expected, atol=0.02)


def test_model_round_trips_as_json(tmp_path):
    settings = default_settings()
    blocked, persons, _, _ = _synthetic_levels(settings, 500, 4_500)
    model = train(settings, blocked, persons, _synthetic_levels(settings, 0, 5_000, seed=3)[0])
    path = tmp_path / "model.json"
    model.save(path)
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)  # readable JSON, with weights a reviewer can read
    assert raw["comparisons"]["name"]["exact"]["weight"] > raw["comparisons"]["name"]["else"]["weight"]
    again = Model.load(path)
    for a, b in zip(model.weight_table(), again.weight_table()):
        np.testing.assert_allclose(a, b, atol=1e-3)
    assert again.match_share == pytest.approx(model.match_share)


def test_model_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a xunqin model"):
        Model.load(path)
