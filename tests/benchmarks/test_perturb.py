"""The perturbation suite corrupts what it says, one field family, on the same records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.perturb import PERTURBATIONS, special_reading_surnames
from xunqin.data import generate_confusions as cf
from xunqin.data.generate import NAME_GROUPS, generate


@pytest.fixture(scope="module")
def gen():
    return generate(600, 6000, seed=21)


@pytest.fixture(scope="module")
def perturbed(gen):
    return {name: fn(gen, np.random.default_rng(5)) for name, fn in PERTURBATIONS.items()}


def _changed_columns(before: pd.DataFrame, after: pd.DataFrame) -> set[str]:
    return {c for c in before.columns if not before[c].equals(after[c])}


# (perturbation, the only station column it may change, reports may change)
CASES = [(name, "name", False) for name in PERTURBATIONS if name.startswith("accent_")] + [
    ("homophone", "name", False), ("southern_surname", "name", False), ("surname_reading_missing", "name", False),
    ("name_split", "name", False), ("name_dropped_char", "name", False),
    ("hometown_older_names", "hometown", True), ("hometown_newer_names", "hometown", True),
    ("hometown_missing", "hometown", False), ("dialect_missing", "dialect", False),
    ("marks_missing", "features", False), ("age_twice_off", "estimated_age", False),
]


@pytest.mark.parametrize("name,column,reports", CASES, ids=[c[0] for c in CASES])
def test_one_field_family_changes(gen, perturbed, name, column, reports):
    p = perturbed[name]
    assert p.stations["record_id"].tolist() == gen.stations["record_id"].tolist()
    changed = _changed_columns(gen.stations, p.stations)
    assert changed <= {column}, changed
    touched = set(p.stations.loc[p.stations[column] != gen.stations[column], "record_id"])
    assert touched <= p.affected
    assert touched or reports  # a hometown renamed may be only in the reports at this size
    if reports:
        rc = p.reports_changed
        assert rc is not None and len(rc) > 0
        before = gen.reports.set_index("report_id").loc[rc["report_id"]]
        assert (rc["hometown"].to_numpy() != before["hometown"].to_numpy()).all()
        assert _changed_columns(before.reset_index(), rc.reset_index(drop=True)) == {"hometown"}
    else:
        assert p.reports_changed is None


def _pairs(gen, p):
    lat = gen.station_latent
    rows = p.stations["name"] != gen.stations["name"]
    return lat[rows.to_numpy()], p.stations.loc[rows, "name"]


def _readings(c: str) -> set[str]:
    return set(cf.sounds().readings.get(c, ()))


# accent family -> (a syllable pair the family may produce, as (said, written) initials/finals)
ACCENT_CHECKS = {
    "accent_n_l": lambda a, b: {a[:1], b[:1]} == {"n", "l"},
    "accent_j_z": lambda a, b: {a[:1], b[:1]} in ({"j", "z"}, {"q", "c"}, {"x", "s"}),
    "accent_b_p": lambda a, b: {a[:1], b[:1]} == {"b", "p"} and a[1:] == b[1:],
    "accent_d_t": lambda a, b: {a[:1], b[:1]} == {"d", "t"} and a[1:] == b[1:],
    "accent_g_k": lambda a, b: {a[:1], b[:1]} == {"g", "k"} and a[1:] == b[1:],
    "accent_ong_eng": lambda a, b: a.endswith(("ong", "eng")) and b.endswith(("ong", "eng")),
    "accent_f_h": lambda a, b: {a[:1], b[:1]} == {"f", "h"},
}


@pytest.mark.parametrize("name", sorted(ACCENT_CHECKS))
def test_accent_perturbations_shift_the_family(gen, perturbed, name):
    lat, written = _pairs(gen, perturbed[name])
    assert len(written) > 0
    check = ACCENT_CHECKS[name]
    for (_, r), new in zip(lat.iterrows(), written):
        old = r["surname"] + r["given"]
        diffs = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(old) == len(new) and 1 <= len(diffs) <= 2
        # some changed character: a reading of the old one and of the new one make the pair
        assert any(check(x, y) for a, b in diffs for x in _readings(a) | {r["surname_reading"]} for y in _readings(b)), (
            old, new)


@pytest.mark.parametrize("name,check", [
    ("southern_surname", lambda old, new, r: new == cf.surname_swaps()[r["surname"]][0] + r["given"]),
    ("name_dropped_char", lambda old, new, r: len(new) == len(old) - 1 and new[0] == old[0]),
    ("name_split", lambda old, new, r: new.replace(" ", "").replace("·", "") == old and new != old),
    ("surname_reading_missing", lambda old, new, r: new[1:] == old[1:] and r["surname"] in special_reading_surnames()
     and r["surname_reading"] in _readings(new[0])),
])
def test_name_perturbations(gen, perturbed, name, check):
    lat, written = _pairs(gen, perturbed[name])
    assert len(written) > 0
    for (_, r), new in zip(lat.iterrows(), written):
        assert check(r["surname"] + r["given"], new, r), new
    assert (lat["name_form"] == "exact").all()  # only names written right are corrupted


def test_surname_reading_missing_asks_the_matcher_to_lack_the_readings(perturbed):
    p = perturbed["surname_reading_missing"]
    assert {"单", "曾", "区", "仇"} <= set(p.drop_surname_readings)


def test_age_twice_off_doubles_the_error(gen, perturbed):
    lat = gen.station_latent
    p = perturbed["age_twice_off"]
    plain = gen.stations["estimated_age"].str.fullmatch(r"\d+") & p.stations["estimated_age"].str.fullmatch(r"\d+")
    before = gen.stations.loc[plain, "estimated_age"].astype(int) - lat.loc[plain, "age"]
    after = p.stations.loc[plain, "estimated_age"].astype(int) - lat.loc[plain, "age"]
    assert after.abs().mean() > 1.7 * before.abs().mean()
    # the same form of writing: an unknown age stays unknown, a decade form stays one
    assert ((p.stations["estimated_age"] == "不详") == (gen.stations["estimated_age"] == "不详")).all()
    decade = lambda col: col.str.contains("多岁|来岁")  # noqa: E731
    assert (decade(p.stations["estimated_age"]) == decade(gen.stations["estimated_age"])).mean() > 0.97


def test_marks_missing_keeps_conditions_and_clothing(gen, perturbed):
    after = perturbed["marks_missing"].stations["features"]
    assert not after.str.contains("疤|痣|胎记|纹身").any()
    assert after.str.contains("身穿").sum() == gen.stations["features"].str.contains("身穿").sum()


def test_truth_groups_label_every_true_record(gen):
    assert gen.truth["name_group"].isin(NAME_GROUPS).all() and gen.truth["name_group"].ne("").all()
