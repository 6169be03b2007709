"""Blocking passes: the numpy join equals a brute-force join; caps bound common keys."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import recordlinkage

from xunqin.matching.blocking import KeyPassIndex, index, pass_pair_codes
from xunqin.matching.features import prepare
from xunqin.matching.settings import BlockingPass, KeyPart, Settings, default_settings

SURNAMES = ["wang", "li", "zhang", "liu", "chen"]
GIVEN = ["xiu ying", "jian guo", "gui lan", "ming", "hong"]


def _frames(seed: int, n_stations: int = 40, n_reports: int = 300):
    rng = np.random.default_rng(seed)

    def name_columns(n):
        surname = rng.choice(SURNAMES, n)
        given = rng.choice(GIVEN, n)
        # some rows carry two readings of the surname, as a heteronym would
        extra = np.where(rng.random(n) < 0.2, "|" + rng.choice(SURNAMES, n), "")
        return {
            "surname_pinyin": np.char.add(surname.astype(str), extra.astype(str)),
            "given_pinyin": given,
            "given_folded": given,
            "name_pinyin": np.char.add(np.char.add(surname.astype(str), " "), given.astype(str)),
            "gender": rng.choice(["男", "女", None], n, p=[0.45, 0.45, 0.1]),
        }

    stations = pd.DataFrame(
        {
            "record_id": [f"S{k}" for k in range(n_stations)],
            "name_kind": rng.choice(["full", "placeholder", "nickname"], n_stations),
            **name_columns(n_stations),
        }
    )
    reports = pd.DataFrame({"report_id": [f"R{k}" for k in range(n_reports)], **name_columns(n_reports)})
    return stations, reports


def _brute_force(stations, reports, spec: BlockingPass, fields) -> set[tuple[int, int]]:
    pairs = set()
    for a, b in itertools.product(range(len(stations)), range(len(reports))):
        if spec.station_kinds and stations["name_kind"][a] not in spec.station_kinds:
            continue
        if all(fields[part](stations, a) & fields[part](reports, b) for part in range(len(spec.keys))):
            pairs.add((a, b))
    return pairs


def _values(column):
    def get(frame, row):
        value = frame[column][row]
        return set(value.split("|")) if isinstance(value, str) and value else set()

    return get


def _gender_key(frame, row):
    g = frame["gender"][row]
    return {"g1"} if g == "男" else {"g2"} if g == "女" else {"g1", "g2"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "spec,fields",
    [
        (BlockingPass("surname", (KeyPart("surname_pinyin", "surname_pinyin"),), 10_000), [_values("surname_pinyin")]),
        (
            BlockingPass(
                "gender_given",
                (KeyPart("gender_key", "gender_key"), KeyPart("given_folded", "given_folded")),
                10_000,
            ),
            [_gender_key, _values("given_folded")],
        ),
        (
            BlockingPass(
                "nickname_surname",
                (KeyPart("surname_pinyin", "surname_pinyin"), KeyPart("given_pinyin", "given_pinyin")),
                10_000,
                station_kinds=("nickname",),
            ),
            [_values("surname_pinyin"), _values("given_pinyin")],
        ),
    ],
    ids=["multi-valued key", "two-part key with unknown gender", "station kinds filter"],
)
def test_pass_equals_brute_force(seed, spec, fields):
    stations, reports = _frames(seed)
    prepared = prepare(stations, reports)
    codes, stats = pass_pair_codes(prepared.stations, prepared.reports, spec)
    got = {(int(c // len(reports)), int(c % len(reports))) for c in codes}
    assert got == _brute_force(stations, reports, spec, fields)
    assert stats.pairs == len(got) and stats.skipped_keys == 0


def test_cap_skips_common_keys_and_counts_them():
    stations, reports = _frames(4, n_reports=500)
    prepared = prepare(stations, reports)
    spec = BlockingPass("given", (KeyPart("given_pinyin", "given_pinyin"),), max_reports_per_key=50)
    codes, stats = pass_pair_codes(prepared.stations, prepared.reports, spec)
    # 5 given names over 500 reports: every key holds ~100 reports, all over the cap
    assert len(codes) == 0 and stats.skipped_keys == len(GIVEN)
    assert stats.skipped_station_rows == len(stations)


def test_recordlinkage_index_gives_the_same_pairs():
    stations, reports = _frames(5)
    prepared = prepare(stations, reports)
    spec = next(b for b in default_settings().blocking if b.name == "name_pinyin")
    indexer = recordlinkage.Index()
    indexer.add(KeyPassIndex(spec, prepared))
    pairs = indexer.index(stations, reports)
    codes, _ = pass_pair_codes(prepared.stations, prepared.reports, spec)
    expected = {(f"S{c // len(reports)}", f"R{c % len(reports)}") for c in codes}
    got = {(stations["record_id"][a], reports["report_id"][b]) for a, b in pairs}
    assert got == expected and len(got) > 0


def test_union_holds_every_pass_once():
    stations, reports = _frames(6)
    prepared = prepare(stations, reports)
    settings = Settings.from_dict(
        {
            **default_settings().to_dict(),
            "blocking": [
                {"name": "surname", "keys": [{"station": "surname_pinyin", "report": "surname_pinyin"}]},
                {"name": "given", "keys": [{"station": "given_pinyin", "report": "given_pinyin"}]},
            ],
        }
    )
    blocked = index(prepared, settings)
    union = set(np.concatenate(list(blocked.pass_codes.values())).tolist())
    codes = blocked.station_rows * len(reports) + blocked.report_rows
    assert len(codes) == len(set(codes.tolist())) == len(union)
    assert set(codes.tolist()) == union


def test_a_night_does_not_import_recordlinkage_until_keypassindex_is_asked_for():
    """recordlinkage pulls in scikit-learn (1.5-3 s of a fresh process); the matcher's own path
    never needs it, the recordlinkage adapter does."""
    import subprocess
    import sys

    code = ("import sys, xunqin.matching.pipeline, xunqin.flows.steps; "
            "assert 'recordlinkage' not in sys.modules and 'sklearn' not in sys.modules; "
            "from xunqin.matching.blocking import KeyPassIndex; "
            "assert 'recordlinkage' in sys.modules and KeyPassIndex.__name__ == 'KeyPassIndex'")
    subprocess.run([sys.executable, "-c", code], check=True)
