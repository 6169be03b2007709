"""A name with a character dropped (张伟 or 张明 for 张伟明) meets its report through the surname
with each character of the report's given name, in order."""

from __future__ import annotations

import pandas as pd
import pytest

from xunqin.ingest import tables
from xunqin.ingest.read import read_table
from xunqin.matching.blocking import index
from xunqin.matching.pipeline import match
from xunqin.matching.features import partial_names, prepare
from xunqin.matching.settings import default_settings


@pytest.mark.parametrize("surname,given,expected", [
    ("zan", "wei min", "zan wei|zan min"),
    ("zan|can", "wei min", "zan wei|zan min|can wei|can min"),  # two surname readings
    ("wan", "xiu yin|xiu yan", "wan xiu|wan yin|wan yan"),  # two readings of the given name
    ("wan", "fan", ""),  # a one-character given name has nothing to drop
    ("ou yan", "min hua", "ou yan min|ou yan hua"),  # a two-character surname
    ("", "wei min", ""),
    ("zan", "", ""),
    ("li", "gan gan", "li gan"),  # 李刚刚: one key, not two
])
def test_partial_names(surname, given, expected):
    assert partial_names(surname, given) == expected


def _tables(tmp_path, station_names, report_names):
    stations = pd.DataFrame({
        "record_id": [f"S{k}" for k in range(len(station_names))], "station": "郑州市救助管理站",
        "name": station_names, "gender": "男", "estimated_age": "50", "found_date": "2026-05-01",
        "found_place": "河南省郑州市金水区", "hometown": "", "dialect": "", "height_cm": "", "features": "",
        "id_number": "", "notes": ""})
    reports = pd.DataFrame({
        "report_id": [f"R{k}" for k in range(len(report_names))], "source": "家属",
        "name": report_names, "aliases": "", "gender": "男", "birth_date": "1976-03-01",
        "age_at_missing": "", "missing_date": "2025-01-01", "missing_place": "广东省广州市天河区",
        "hometown": "", "height_cm": "", "features": "", "id_number": "", "contact": "", "notes": ""})
    stations.to_csv(tmp_path / "stations.csv", index=False)
    reports.to_csv(tmp_path / "reports.csv", index=False)
    s, _ = tables.normalize_stations(read_table(tmp_path / "stations.csv", "stations"))
    r, _ = tables.normalize_reports(read_table(tmp_path / "reports.csv", "reports"))
    return s, r


def test_a_dropped_character_is_blocked_and_named_in_the_evidence(tmp_path):
    stations, reports = _tables(tmp_path, ["张伟", "张明"], ["张伟明", "李伟明", "张建国"])
    settings = default_settings()
    blocked = index(prepare(stations, reports), settings)
    got = set(zip(blocked.station_rows.tolist(), blocked.report_rows.tolist()))
    assert {(0, 0), (1, 0)} <= got  # 张伟 and 张明 both meet 张伟明
    result = match(stations, reports, settings=settings)
    top = result.candidates[result.candidates["rank"] == 1].set_index("station_record_id")["report_id"]
    assert top.to_dict() == {"S0": "R0", "S1": "R0"}
    levels = result.candidates.set_index(["station_record_id", "report_id"])["name_level"]
    assert levels[("S0", "R0")] == "partial" and levels[("S1", "R0")] == "partial"
