"""寻亲登记: a family's description ranks the station persons with the night's matcher and model,
and can be saved as a report (source 家属) that the next night matches."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.store import db, records, search
from xunqin.web import family

SAMPLE = "data/sample"


def _truth_case(world: dict, name_form: str, *, other_than: str | None = None, station: str | None = None) -> tuple[str, dict[str, str]]:
    """(true station record id, the form as a family would fill it from that person's report)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / SAMPLE
    truth = pd.read_csv(root / "truth.csv", dtype=str)
    reports = pd.read_csv(root / "reports.csv", dtype=str).set_index("report_id")
    stations = pd.read_csv(root / "stations.csv", dtype=str).set_index("record_id")
    for pair in truth.itertuples():
        st = stations.loc[pair.station_record_id, "station"]
        if pair.name_form != name_form or (other_than and st == other_than) or (station and st != station):
            continue
        r = reports.loc[pair.report_id]
        form = {key: (r[column] if isinstance(r.get(column), str) else "") for key, (column, _, _) in family.FIELDS.items()}
        return pair.station_record_id, form
    raise AssertionError("no such truth pair in the sample")


def _rank(client, form: dict[str, str]):  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/family").text).group(1)
    return client.post("/family", data={**form, "csrf_token": token})


def _ranked(html: str) -> list[str]:
    return re.findall(r'<details class="cand" data-station-record="([^"]+)"', html)


@pytest.mark.parametrize("name_form", ["exact", "dialect", "homophone", "placeholder"])
def test_a_case_written_from_a_report_ranks_the_true_person_first(as_user, world, name_form) -> None:  # type: ignore[no-untyped-def]
    true_id, form = _truth_case(world, name_form)
    r = _rank(as_user("reviewer"), form)
    assert r.status_code == 200, r.text[:500]
    ranked = _ranked(r.text)
    assert ranked and ranked[0] == true_id
    first = r.text.split('data-station-record="')[1]
    assert first.count('class="row"') >= 4 and "分值构成" in first  # the evidence waterfall, as on the person page
    assert "与夜间比对同一模型" in r.text


def test_most_cases_from_the_sample_rank_their_person_first(world) -> None:
    """The whole sample truth through read_case/rank_case (what the form calls): a quality figure."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / SAMPLE
    truth = pd.read_csv(root / "truth.csv", dtype=str)
    reports = pd.read_csv(root / "reports.csv", dtype=str).set_index("report_id")
    cache = family.PreparedStations()
    first = 0
    with db.sessions(world["url"])() as s:
        for pair in truth.itertuples():
            r = reports.loc[pair.report_id]
            values = {key: (r[c] if isinstance(r.get(c), str) else "") for key, (c, _, _) in family.FIELDS.items()}
            ranking = family.rank_case(s, family.read_case(values, "JS20260101-TEST01"), station=None, full_ids=False,
                                       prepared_stations=cache)
            first += bool(ranking.shown) and ranking.shown[0].station_record_id == pair.station_record_id
    assert first / len(truth) >= 0.85


def test_the_ranking_uses_the_nights_scores(world) -> None:
    """A case identical to a stored report gets the night's score for its pairs, but for the name
    frequency (the stored report and the case both hold the name: one agreement bit less at most)."""
    true_id, form = _truth_case(world, "homophone")
    with db.sessions(world["url"])() as s:
        ranking = family.rank_case(s, family.read_case(form, "JS20260101-TEST02"), station=None, full_ids=False)
        report = s.execute(sa.text("SELECT report_id FROM reports WHERE is_current AND json_extract(raw, '$.name') = :n"),
                           {"n": form["name"]}).scalars().all()
        night = dict(s.execute(sa.text("SELECT station_record_id, score FROM candidates WHERE report_id IN :r")
                               .bindparams(sa.bindparam("r", expanding=True)), {"r": report}).all())
    mine = {x.station_record_id: x.score for x in ranking.shown}
    both = set(mine) & set(night)
    assert true_id in both
    for sid in both:
        assert abs(mine[sid] - night[sid]) < 0.01  # homophone: no exact-name agreement, no frequency term


def test_staff_see_their_stations_people_and_a_count_of_the_others(as_user, world) -> None:  # type: ignore[no-untyped-def]
    true_id, form = _truth_case(world, "exact", other_than=world["station_a"])
    r = _rank(as_user("staff_a"), form)
    assert r.status_code == 200
    assert true_id not in _ranked(r.text) and true_id not in r.text
    with db.sessions(world["url"])() as s:
        where = search.station_of_records(s, _ranked(r.text))
    assert set(where.values()) <= {world["station_a"]}
    assert re.search(r"其他救助站另有 \d+ 位可能的受助人员", r.text)


def test_a_saved_case_is_a_pending_report_the_next_night_matches(as_user, world, h) -> None:  # type: ignore[no-untyped-def]
    true_id, form = _truth_case(world, "dialect")
    c = as_user("reviewer")
    ranked = _rank(c, form)
    report_id = re.search(r'name="report_id" value="(JS[^"]+)"', ranked.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', ranked.text).group(1)
    r = c.post("/family/save", data={**form, "report_id": report_id, "csrf_token": token})
    assert r.status_code == 200 and f"已保存为寻人启事 {report_id}" in r.text
    assert c.post("/family/save", data={**form, "report_id": report_id, "csrf_token": token}).status_code == 409  # once
    with db.sessions(world["url"])() as s:
        row = s.execute(sa.text("SELECT raw, matched_run_id FROM reports WHERE report_id = :r AND is_current"), {"r": report_id}).one()
        assert json.loads(row.raw)["source"] == "家属" and json.loads(row.raw)["name"] == form["name"]
        assert row.matched_run_id is None  # pending: the next night takes it
        assert [x.record_id for x in search.find(s, search.Query(number=report_id)).hits] == [report_id]
        audit = s.execute(sa.text("SELECT actor, action, detail FROM audit_log WHERE action LIKE 'family%' ORDER BY id")).all()
    assert [(a, b) for a, b, _ in audit] == [("reviewer", "family_match"), ("reviewer", "family_case_saved")]
    assert form["name"] not in "".join(d for _, _, d in audit) and true_id in audit[0][2]

    from xunqin.flows import steps

    night = steps.match_pending(world["url"], run_id=None)
    assert night["pending_reports"] == 1
    with db.sessions(world["url"])() as s:
        assert report_id not in set(map(str, records.pending_row_ids(s, "reports")))
        rows = s.execute(sa.text("SELECT report_id, evidence FROM candidates WHERE station_record_id = :s"), {"s": true_id}).all()
    # the true person now holds the family's report (or the report it duplicates, naming it)
    assert any(rid == report_id or report_id in str(json.loads(ev).get("duplicate_report_ids") or "") for rid, ev in rows)


@pytest.mark.parametrize("change, status, text", [
    ({"name": ""}, 400, "请填写：姓名"),
    ({"missing_date": ""}, 400, "请填写：走失日期"),
    ({"height_cm": "很高很高"}, 200, "身高无法识别"),
    ({"missing_date": "2019年13月"}, 200, "月份不对"),  # ranked without the date, the problem shown
])
def test_what_the_form_cannot_read_is_said_in_chinese(as_user, world, change, status, text) -> None:  # type: ignore[no-untyped-def]
    _, form = _truth_case(world, "exact")
    r = _rank(as_user("reviewer"), {**form, **change})
    assert r.status_code == status and text in r.text


def test_the_form_needs_a_csrf_token_and_a_role(as_user, world) -> None:  # type: ignore[no-untyped-def]
    _, form = _truth_case(world, "exact")
    assert as_user("reviewer").post("/family", data=form).status_code == 403
    assert as_user("police").get("/family").status_code == 403


def test_without_a_model_the_form_says_a_night_must_run_first(tmp_path, h) -> None:  # type: ignore[no-untyped-def]
    from xunqin.web import auth
    from xunqin.web.app import create_app

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    db.upgrade(url)
    with db.sessions(url).begin() as s:
        auth.add_user(s, "rev", h.PASSWORD, "reviewer")
    c = h.client_for(create_app(url))
    assert h.login(c, "rev").status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/family").text).group(1)
    r = c.post("/family", data={"name": "张三", "missing_date": "2020-01-01", "csrf_token": token})
    assert r.status_code == 409 and "夜间比对运行过一次之后" in r.text
    db.dispose(url)
