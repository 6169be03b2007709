"""The probability shown beside a candidate: per person over its list plus "not among these"."""

from __future__ import annotations

import numpy as np
import pytest

from xunqin.matching.probability import (
    Calibration,
    calibrated_list_probabilities,
    calibration_table,
    estimate_station_share,
    expected_calibration_error,
    list_probabilities,
)

PRIOR = -10.0  # the model's pair prior in bits
R = 1024  # reports held: log2 R = 10


@pytest.mark.parametrize(
    "scores, share, expected",
    [
        # one candidate whose evidence λ·BF is exactly 1: half the mass on it, half on "none"
        ([PRIOR + 10 + 1], 0.5, [0.5]),
        # evidence 2^10 times the prior odds against: near certain
        ([PRIOR + 10 + 1 + 10], 0.5, [1024 / 1025]),
        # two equally strong candidates split the person's one family between them
        ([PRIOR + 21, PRIOR + 21], 0.5, [1024 / 2049, 1024 / 2049]),
        # a weak candidate beside a strong one keeps little
        ([PRIOR + 21, PRIOR + 11], 0.5, [1024 / 1026, 1 / 1026]),
        # a smaller share of people with a family held: less for the same evidence
        ([PRIOR + 10 + 1], 0.1, [0.2 / 1.2]),
    ],
)
def test_list_probabilities_normalise_over_the_list_and_the_not_among_these_mass(scores, share, expected) -> None:
    got = list_probabilities(np.array(scores), np.array(["S1"] * len(scores)), PRIOR, R, share)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert got.sum() < 1.0  # something is always left for "the family is not among these"


def test_each_station_record_is_its_own_list() -> None:
    got = list_probabilities(np.array([PRIOR + 21, PRIOR + 21, PRIOR + 21]), np.array(["A", "A", "B"]), PRIOR, R, 0.5)
    assert got[2] == pytest.approx(1024 / 1025)
    assert got[0] == got[1] == pytest.approx(1024 / 2049)


def test_more_reports_held_means_less_for_the_same_evidence() -> None:
    few = list_probabilities(np.array([PRIOR + 15]), np.array(["S"]), PRIOR, 1_000, 0.5)
    many = list_probabilities(np.array([PRIOR + 15]), np.array(["S"]), PRIOR, 1_000_000, 0.5)
    assert many[0] < few[0]


def test_the_station_share_is_recovered_from_evidence_alone() -> None:
    """700 of 1,000 people have a family whose evidence stands out; the rest only weak ones."""
    rng = np.random.default_rng(3)
    stations, scores = [], []
    for s in range(1000):
        n = 20
        weak = PRIOR + np.log2(R) + rng.normal(-12, 2, n)  # λ·BF around 2^-12 before the share
        if s < 700:
            weak[0] = PRIOR + np.log2(R) + 14  # the family
        stations += [f"S{s}"] * n
        scores += list(weak)
    share = estimate_station_share(np.array(scores), np.array(stations), 1000, PRIOR, R)
    assert share == pytest.approx(0.70, abs=0.02)
    # station records with no blocked pair at all count too
    assert estimate_station_share(np.array(scores), np.array(stations), 2000, PRIOR, R) == pytest.approx(0.35, abs=0.02)


def test_calibration_is_fitted_on_labels_and_a_list_never_sums_past_one() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 5000)
    truth = rng.uniform(0, 1, 5000) < p ** 2  # the model is overconfident
    cal = Calibration.fit(p, truth)
    assert cal.labels == 5000
    assert expected_calibration_error(cal.apply(p), truth) < expected_calibration_error(p, truth) / 3
    back = Calibration.from_dict(cal.to_dict())
    np.testing.assert_allclose(back.apply(p), cal.apply(p))
    up = Calibration((0.0, 1.0), (0.9, 0.9), 2)  # maps everything to 0.9
    got = calibrated_list_probabilities(np.array([0.4, 0.4, 0.3]), np.array(["A", "A", "B"]), up)
    assert got[:2].sum() == pytest.approx(1.0) and got[2] == pytest.approx(0.9)


@pytest.mark.parametrize(
    "p, y, ece",
    [
        ([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1], 0.05),
        ([0.9, 0.9, 0.9, 0.9], [0, 0, 0, 0], 0.9),
        ([0.5, 0.5], [0, 1], 0.0),
    ],
)
def test_expected_calibration_error(p, y, ece) -> None:
    assert expected_calibration_error(np.array(p), np.array(y)) == pytest.approx(ece)
    table = calibration_table(np.array(p), np.array(y))
    assert table["pairs"].sum() == len(p) and len(table) == 10
