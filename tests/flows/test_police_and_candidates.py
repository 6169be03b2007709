"""The police round trip and the candidates held, on SQLite and PostgreSQL: a results file taken
by `xunqin police-import` and by the inbox, every row accounted for, confirmed pairs closing
both records with a reunion and a label, the same file twice changing nothing; `xunqin
candidates` writing the open queue in the contract's columns."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.flows.cli import main
from xunqin.flows.nightly import nightly
from xunqin.store import candidates, db, decisions
from xunqin_test_dbfixtures import snapshot

HEADER = "受助人员编号,寻人启事编号,核查结果,核查方式,核查日期,备注\n"


def _night(tmp_path: Path, url: str) -> Path:
    from xunqin.data.generate import generate

    gen = generate(90, 700, seed=7)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    gen.stations.to_csv(inbox / "stations.csv", index=False)
    gen.reports.to_csv(inbox / "reports.csv", index=False)
    nightly(inbox=str(inbox), db_url=url, top_k=5)
    return inbox


def _queue(url: str) -> pd.DataFrame:
    with db.sessions(url)() as s:
        return candidates.review_queue(s)


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def _count(url: str, sql: str) -> int:
    with db.engine(url).connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_police_results_close_confirmed_pairs_and_every_row_is_accounted_for(db_url: str, tmp_path: Path) -> None:
    url = db_url
    _night(tmp_path, url)
    queue = _queue(url)
    firsts = queue[queue["rank"] == 1].reset_index(drop=True)
    a, b, c = firsts.iloc[0], firsts.iloc[1], firsts.iloc[2]
    with db.sessions(url).begin() as s:  # A and B were sent to the police as 疑似; C never was
        decisions.record_decision(s, a.station_record_id, a.report_id, "疑似", "reviewer-1")
        decisions.record_decision(s, b.station_record_id, b.report_id, "疑似", "reviewer-1")
    results = tmp_path / "公安核查结果.csv"
    results.write_text(HEADER + "\n".join([
        f"{a.station_record_id},{a.report_id},比中,DNA,2026年11月20日,血样比对一致",
        f"{b.station_record_id},{b.report_id},非本人,指纹,2026-11-21,",
        f"{c.station_record_id},{c.report_id},核查中,,,",
        f"S-NOT-HELD,{c.report_id},比中,DNA,2026-11-22,",
        f"{c.station_record_id},{c.report_id},可能,,,",
        f"{c.station_record_id},,比中,,,",
    ]) + "\n", encoding="utf-8")

    code, said = _cli("police-import", str(results), "--db", url, "--actor", "police-liaison")
    assert code == 0
    assert "共 6 行；采纳 3 行（比中 1，未比中 1，核查中 1）；已有记录 0 行；未采纳 3 行" in said
    assert "1 条结果所对应的配对未曾作为疑似导出" in said  # C, taken and flagged
    assert "救助站记录编号在库中不存在" in said and "核查结果无法识别" in said and "必填项为空" in said

    with db.sessions(url)() as s:
        closed_s, closed_r = decisions.closed_ids(s)
    assert a.station_record_id in closed_s and a.report_id in closed_r  # both records closed
    q = _queue(url)
    assert not (q["station_record_id"] == a.station_record_id).any() and not (q["report_id"] == a.report_id).any()
    assert not ((q["station_record_id"] == b.station_record_id) & (q["report_id"] == b.report_id)).any()
    assert _count(url, "SELECT count(*) FROM reunions") == 1
    assert _count(url, f"SELECT count(*) FROM reunions WHERE station_record_id = '{a.station_record_id}' "
                       "AND reunited_on = '2026-11-20' AND method = 'DNA'") == 1
    assert _count(url, "SELECT count(*) FROM labels WHERE source = 'police' AND is_match") == 1
    assert _count(url, "SELECT count(*) FROM labels WHERE source = 'police' AND NOT is_match") == 1
    assert _count(url, "SELECT count(*) FROM audit_log WHERE action = 'police_result' AND actor = 'police-liaison'") == 3
    assert _count(url, "SELECT count(*) FROM police_results WHERE NOT was_exported") == 1
    assert _count(url, "SELECT count(*) FROM rejects r JOIN source_files f ON f.id = r.source_file_id WHERE f.kind = 'police'") == 3

    before = snapshot(url)
    code, said = _cli("police-import", str(results), "--db", url)  # the same file again
    assert code == 0 and "已导入过" in said
    again = tmp_path / "again.csv"  # the same results in another file: recorded already
    again.write_text(HEADER + f"{b.station_record_id},{b.report_id},非本人,指纹,2026-11-21,复核\n", encoding="utf-8")
    code, said = _cli("police-import", str(again), "--db", url)
    assert "已有记录 1 行" in said
    after = snapshot(url)
    assert {k: v for k, v in after.items() if k != "source_files"} == {k: v for k, v in before.items() if k != "source_files"}


def test_reviewer_confirm_and_exclude_are_labels(db_url: str, tmp_path: Path) -> None:
    url = db_url
    _night(tmp_path, url)
    first = _queue(url).iloc[0]
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, first.station_record_id, first.report_id, "待定", "r1")
        decisions.record_decision(s, first.station_record_id, first.report_id, "排除", "r1", note="年龄对不上")
    with db.engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT is_match, source, actor, reason FROM labels")).all()
    assert [tuple(r) for r in rows] == [(False, "reviewer", "r1", "年龄对不上")]


def test_candidates_held_are_the_open_queue_in_the_contract_columns(db_url: str, tmp_path: Path) -> None:
    url = db_url
    _night(tmp_path, url)
    queue = _queue(url)
    first = queue[queue["rank"] == 1].iloc[0]
    with db.sessions(url).begin() as s:
        decisions.record_decision(s, first.station_record_id, first.report_id, "排除", "r1")
    out = tmp_path / "held.csv"
    code, _ = _cli("candidates", "--db", url, "--out", str(out), "--top-k", "3")
    assert code == 0
    held = pd.read_csv(out, dtype={"station_record_id": str, "report_id": str})
    assert list(held.columns[:4]) == ["station_record_id", "report_id", "rank", "score"]
    assert {"probability", "duplicate_report_ids", "evidence"} <= set(held.columns)
    assert held.groupby("station_record_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert held["rank"].max() <= 3
    assert not ((held["station_record_id"] == first.station_record_id) & (held["report_id"] == first.report_id)).any()
    # best first within a station record; every held pair is in the open queue
    assert (held.groupby("station_record_id")["score"].diff().dropna() <= 1e-9).all()
    open_pairs = set(zip(_queue(url)["station_record_id"], _queue(url)["report_id"]))
    assert set(zip(held["station_record_id"], held["report_id"])) <= open_pairs
    assert held["probability"].between(0, 1).all()
    assert (held.groupby("station_record_id")["probability"].sum() <= 1 + 1e-6).all()


@pytest.mark.parametrize("name", ["核查结果.xlsx", "police_results.csv"])
def test_the_inbox_takes_a_police_results_file_by_its_columns(db_url: str, tmp_path: Path, name: str) -> None:
    url = db_url
    inbox = _night(tmp_path, url)
    first = _queue(url).iloc[0]
    frame = pd.DataFrame({"受助人员编号": [first.station_record_id], "寻人启事编号": [first.report_id],
                          "核查结果": ["是本人"], "核查方式": ["人脸"], "核查日期": ["2026-11-30"]})
    path = inbox / name
    if name.endswith(".xlsx"):
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False)
    summary = nightly(inbox=str(inbox), db_url=url, top_k=5)
    taken = [f for f in summary["ingest"]["files"] if f["file"] == name]
    assert taken and taken[0]["kind"] == "police" and taken[0]["status"] == "taken"
    assert _count(url, "SELECT count(*) FROM reunions WHERE method = '人像比对'") == 1
    assert (inbox / "archive").exists() and any(p.name == name for p in (inbox / "archive").rglob("*"))
