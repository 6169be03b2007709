"""`xunqin match` on the checked-in sample, as the province's scripts call it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from xunqin.flows.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

# Hard cases in the sample (ids from data/sample/truth.csv), each with why it is hard.
HARD_CASES = [
    ("homophone surname: station wrote 路淑蓝 for 陆淑兰", "S000052", "R0002737"),
    ("homophone surname: 汪永平 for 王永平", "S000115", "R0001165"),
    ("dialect-shifted given name (n/l): 黄倪华 for 黄丽华", "S000049", "R0001384"),
    ("dialect-shifted given name (en/eng): 孙翁强 for 孙文强", "S000122", "R0000839"),
    ("nickname: 荣娃 for 王玉荣, whose family wrote the alias 阿荣", "S000034", "R0002601"),
    ("no name, elderly, hometown county and age fit", "S000093", "R0001623"),
    ("no name, elderly, hometown district 马尾 and age fit", "S000062", "R0002098"),
]


@pytest.fixture(scope="module")
def english(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("en") / "candidates.csv"
    model = out.with_name("model.json")
    code = main(
        ["match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
         "--out", str(out), "--model", str(model)]
    )
    assert code == 0 and model.exists()
    return pd.read_csv(out, dtype={"station_record_id": str, "report_id": str})


def test_output_contract(english):
    assert list(english.columns[:4]) == ["station_record_id", "report_id", "rank", "score"]
    assert {"name_level", "name_weight", "age_level", "hometown_level", "evidence"} <= set(english.columns)
    per_station = english.groupby("station_record_id", sort=False)
    assert per_station.size().max() <= 10
    for _, group in per_station:
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing
    # the evidence adds up to the score (a waterfall a reviewer can check)
    weights = english.filter(like="_weight").sum(axis=1)
    assert (weights - english["score"]).abs().max() < 0.05
    # no personal data in the output: ids and evidence only
    stations = pd.read_csv(SAMPLE / "stations.csv", dtype=str)
    names = set(stations["name"].dropna()) - {"无名氏", "未知", "待查", "空"}
    assert not any(english["evidence"].astype(str).str.contains(n, regex=False).any() for n in list(names)[:200])


@pytest.mark.parametrize("description,station,report", HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_hard_case_ranks_true_report_in_top_3(english, description, station, report):
    rows = english[(english["station_record_id"] == station) & (english["report_id"] == report)]
    assert len(rows) == 1, f"{description}: true report not among the candidates"
    assert int(rows["rank"].iloc[0]) <= 3, description


def test_recall_on_the_sample(english):
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    hits = truth.merge(english, on=["station_record_id", "report_id"])
    matchable = truth["station_record_id"].nunique()
    assert hits["station_record_id"].nunique() / matchable >= 0.85
    assert hits.loc[hits["rank"] == 1, "station_record_id"].nunique() / matchable >= 0.75


def test_chinese_headers_xlsx_and_gb18030_give_the_same_candidates(english, tmp_path):
    out = tmp_path / "candidates.csv"
    code = main(
        ["match", "--stations", str(SAMPLE / "stations_zh.xlsx"), "--reports",
         str(SAMPLE / "reports_zh_gb18030.csv"), "--out", str(out), "--top-k", "3"]
    )
    assert code == 0
    chinese = pd.read_csv(out, dtype={"station_record_id": str, "report_id": str})
    assert chinese.groupby("station_record_id").size().max() <= 3
    top3 = english[english["rank"] <= 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        chinese[["station_record_id", "report_id", "rank"]], top3[["station_record_id", "report_id", "rank"]]
    )


def test_saved_model_is_reused(english, tmp_path):
    first = tmp_path / "first.csv"
    model = tmp_path / "model.json"
    args = ["match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv")]
    assert main([*args, "--out", str(first), "--model", str(model)]) == 0
    text = model.read_text(encoding="utf-8")
    second = tmp_path / "second.csv"
    assert main([*args, "--out", str(second), "--model", str(model)]) == 0
    assert model.read_text(encoding="utf-8") == text  # loaded, not retrained
    pd.testing.assert_frame_equal(pd.read_csv(first), pd.read_csv(second))


def test_refused_file_exits_non_zero_with_one_line(tmp_path, capsys):
    bad = tmp_path / "stations.csv"
    bad.write_text("record_id,name\nS1,测试甲\n", encoding="utf-8")  # no station, no found_date
    code = main(["match", "--stations", str(bad), "--reports", str(SAMPLE / "reports.csv"),
                 "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and "stations.csv" in err[0] and ("station" in err[0] or "found_date" in err[0])
    assert not (tmp_path / "out.csv").exists()


def test_the_candidates_csv_says_its_evidence_in_chinese_too(english):
    """依据 beside evidence: the same comparisons, levels and weights, in the words reviewers read."""
    from xunqin.matching.explain import COMPARISON_TEXT, LEVEL_TEXT

    columns = list(english.columns)
    assert columns.index("依据") == columns.index("evidence") + 1
    comparisons = [c[: -len("_level")] for c in columns if c.endswith("_level")]
    for _, row in english.head(300).iterrows():
        expected = [f"{COMPARISON_TEXT[c]}：{LEVEL_TEXT[c].get(row[f'{c}_level'], row[f'{c}_level'])}（{row[f'{c}_weight']:+.1f}）"
                    for c in comparisons if not pd.isna(row[f"{c}_level"]) and row[f"{c}_level"] != "null"]  # "null" reads as NaN
        assert row["依据"] == "；".join(expected)
    assert not english["依据"].str.contains(r"[a-z_]{3,}", regex=True).any()  # no level codes left untranslated
