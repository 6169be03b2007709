"""Report shards give the single-process answers: caps, name frequencies, training, duplicate
groups and the top K are those of the whole list, whatever the shard size."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunqin.ingest import ingest_files
from xunqin.matching import model as model_mod
from xunqin.matching.pipeline import SerialRunner, match
from xunqin.matching.settings import Settings, default_settings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@cache
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    result = ingest_files(stations=SAMPLE / "stations.csv", reports=SAMPLE / "reports.csv")
    return result.stations, result.reports


def tight_settings() -> Settings:
    """Caps low enough that keys are over them in the whole list but not in any one shard."""
    raw = default_settings().to_dict()
    for spec in raw["blocking"]:
        spec["max_reports_per_key"] = 4
    return Settings.from_dict(raw)


def assert_same_candidates(got: pd.DataFrame, want: pd.DataFrame) -> None:
    key = ["station_record_id", "report_id", "rank"]
    pd.testing.assert_frame_equal(got[key].reset_index(drop=True), want[key].reset_index(drop=True))
    np.testing.assert_allclose(got["score"], want["score"], atol=1e-3)
    np.testing.assert_allclose(got["probability"], want["probability"], atol=1e-5)
    rest = [c for c in want.columns if c not in (*key, "score", "probability") and not c.endswith("_weight")]
    pd.testing.assert_frame_equal(got[rest].reset_index(drop=True), want[rest].reset_index(drop=True))


@pytest.mark.parametrize("shard_size", [450, 1_000])
def test_shards_in_this_process_give_the_answers_of_one(shard_size):
    stations, reports = sample()
    settings = tight_settings()
    one = match(stations, reports, settings=settings, keep_scored_pairs=True)
    sharded = match(stations, reports, settings=settings, shard_size=shard_size, keep_scored_pairs=True)
    # the test means something: keys were capped, and only the whole list's counts cap them
    assert sum(p.skipped_keys for p in one.blocked.passes) > 0
    assert [p.pairs for p in sharded.blocked.passes] == [p.pairs for p in one.blocked.passes]
    for name in one.model.m:
        np.testing.assert_allclose(sharded.model.m[name], one.model.m[name], rtol=1e-9)
    assert sharded.model.station_share == pytest.approx(one.model.station_share, rel=1e-9)
    assert_same_candidates(sharded.candidates, one.candidates)
    # every pair, not only the listed ones
    pairs = ["station_row", "report_row"]
    a = one.scored_pairs.sort_values(pairs).reset_index(drop=True)
    b = sharded.scored_pairs.sort_values(pairs).reset_index(drop=True)
    pd.testing.assert_frame_equal(b[pairs], a[pairs])
    np.testing.assert_allclose(b["score"], a["score"], rtol=1e-12)


def test_shards_in_this_process_are_rows_of_one_preparation():
    stations, reports = sample()
    runner = SerialRunner.of_frames(stations, reports, 450)
    shards = runner.shards
    assert len(shards) == -(-len(reports) // 450) and [s.start for s in shards] == list(range(0, len(reports), 450))
    assert all(s.prepared.vocab is shards[0].prepared.vocab for s in shards)  # each string coded once
    assert all(s.station_codes == shards[0].station_codes for s in shards)
    assert runner.report_ids(np.arange(len(reports))).tolist() == reports["report_id"].astype(str).tolist()
    # views of the whole preparation's arrays, not copies
    whole = shards[0].prepared.reports.multi["name_all"].codes.base
    assert whole is not None and all(s.prepared.reports.multi["name_all"].codes.base is whole for s in shards)


def test_a_person_reported_in_two_shards_takes_one_slot():
    stations, reports = sample()
    shard_size = 450
    got = match(stations, reports, shard_size=shard_size).candidates
    shard_of = pd.Series(np.arange(len(reports)) // shard_size, index=reports["report_id"].astype(str))
    listed = got[got["duplicate_report_ids"].fillna("") != ""]
    across = [(r, d) for r, dups in zip(listed["report_id"], listed["duplicate_report_ids"])
              for d in dups.split("|") if shard_of[d] != shard_of[r]]
    assert across, "the sample should hold a person reported in two shards"
    for report, duplicate in across:
        station = listed.loc[listed["report_id"] == report, "station_record_id"]
        # the other report of that person is not listed again for the same station record
        assert not ((got["report_id"] == duplicate) & got["station_record_id"].isin(station)).any()


def test_pattern_counts_add_up_and_em_on_them_is_em_on_the_pairs():
    rng = np.random.default_rng(7)
    settings = default_settings()
    n = 5_000
    stations = np.sort(rng.integers(0, 300, n))
    levels = np.stack([rng.integers(0, len(c.levels), n) for c in settings.comparisons], axis=1).astype(np.int8)
    levels[:, :4] = 1  # patterns repeat within a station record
    whole = model_mod.PatternCounts.of_pairs(stations, levels)
    halves = model_mod.PatternCounts.combine([model_mod.PatternCounts.of_pairs(stations[:2_000], levels[:2_000]),
                                              model_mod.PatternCounts.of_pairs(stations[2_000:], levels[2_000:])])
    for name in ("station", "pattern", "count"):
        np.testing.assert_array_equal(getattr(halves, name), getattr(whole, name))
    assert len(whole.count) < n and whole.count.sum() == n
    np.testing.assert_array_equal(
        model_mod.unpack_levels(model_mod.pack_levels(levels), levels.shape[1]), levels)
    # the posterior of a (station, pattern) row is that of each of its pairs
    llr_rows = rng.normal(size=len(whole.count))
    starts = np.flatnonzero(np.r_[True, whole.station[1:] != whole.station[:-1]])
    sizes = np.diff(np.r_[starts, len(whole.count)])
    per_row = model_mod.expectation(llr_rows, starts, sizes, 0.3, whole.count)
    expanded = np.repeat(llr_rows, whole.count)
    pair_station = np.repeat(whole.station, whole.count)
    pair_starts = np.flatnonzero(np.r_[True, pair_station[1:] != pair_station[:-1]])
    per_pair = model_mod.expectation(expanded, pair_starts, np.diff(np.r_[pair_starts, len(expanded)]), 0.3)
    np.testing.assert_allclose(np.repeat(per_row, whole.count), per_pair, rtol=1e-12)


def test_the_top_k_counts_people_not_reports_however_many_duplicates_come_first():
    """Seven reports of one person score above another person's report: with K = 2 both people
    are listed (the earlier 3K shortlist before grouping listed only the first), and the
    merge of two shards' tops gives the same."""
    from xunqin.matching.rank import top_groups

    i = np.zeros(8, dtype=np.int64)
    j = np.arange(8)
    total = np.array([9.0, 8.9, 8.8, 8.7, 8.6, 8.5, 8.4, 1.0])
    groups = np.array([5, 5, 5, 5, 5, 5, 5, 6])
    kept, ranks = top_groups(i, j, total, groups, top_k=2)
    assert list(j[kept]) == [0, 7] and list(ranks) == [1, 2]
    halves = [np.arange(0, 4), np.arange(4, 8)]
    tops = np.concatenate([h[top_groups(i[h], j[h], total[h], groups[h], 2)[0]] for h in halves])
    merged, _ = top_groups(i[tops], j[tops], total[tops], groups[tops], 2)
    assert list(j[tops][merged]) == [0, 7]


@pytest.mark.parametrize("scores,want", [
    ([3.0, 3.0, 3.0], [0, 1]),  # equal scores: the earlier report rows first, whatever the pair order
    ([3.0, 1.0, 3.0], [1, 2]),
])
def test_equal_scores_rank_by_report_row(scores, want):
    from xunqin.matching.rank import top_groups

    j = np.array([2, 0, 1])
    kept, ranks = top_groups(np.zeros(3, dtype=np.int64), j, np.asarray(scores), np.arange(3), top_k=2)
    assert list(j[kept]) == want and list(ranks) == [1, 2]
