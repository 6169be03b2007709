"""The province's figures on the sample: people held per station, candidates waiting, sent to the
police, confirmed, gone home, median days; a chart over months; the same as XLSX."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.store import db, decisions
from xunqin.store.models import Reunion, utcnow
from xunqin.web import dashboard

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _cards(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)">([^<]+)<', html))


def _table(html: str) -> dict[str, list[str]]:
    body = html.split('<table class="figures">')[1].split("</table>")[0]
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        out[cells[0]] = cells[1:]
    return out


@pytest.fixture()
def history(as_user, world):  # type: ignore[no-untyped-def]
    """A 疑似 sent to the police for person A; person B confirmed and gone home 30 days after admission."""
    staff = as_user("staff_a")
    page = staff.get(f"/person/{world['person_a']}").text
    report = re.search(r'name="report_id" value="([^"]+)"', page).group(1)
    staff.post(f"/person/{world['person_a']}/decision", data={"csrf_token": _csrf(page), "report_id": report, "decision": "疑似"})
    police = as_user("police")
    police.post("/export/download", data={"csrf_token": _csrf(police.get("/export").text), "fmt": "csv"})
    with db.sessions(world["url"]).begin() as s:
        report_b = s.execute(sa.text("SELECT report_id FROM candidates WHERE station_record_id = :p ORDER BY rank LIMIT 1"),
                             {"p": world["person_b"]}).scalar()
        decisions.record_decision(s, world["person_b"], report_b, "确认", reviewer="reviewer")
        found_b = s.execute(sa.text("SELECT json_extract(normalized, '$.found_date') FROM station_records WHERE record_id = :p"),
                            {"p": world["person_b"]}).scalar()
        s.add(Reunion(station_record_id=world["person_b"], report_id=report_b,
                      reunited_on=dt.date.fromisoformat(found_b) + dt.timedelta(days=30), method="DNA", recorded_at=utcnow()))
    return {"found_b": dt.date.fromisoformat(found_b)}


def test_the_dashboard_shows_the_samples_figures(as_user, world, history) -> None:  # type: ignore[no-untyped-def]
    stations = pd.read_csv(SAMPLE / "stations.csv", dtype=str)
    per_station = stations["station"].value_counts()
    html = as_user("reviewer").get("/dashboard").text
    cards = _cards(html)
    with db.engine(world["url"]).connect() as con:
        waiting = con.execute(sa.text("SELECT count(*) FROM web_queue WHERE n_undecided > 0")).scalar()
        waiting_b = con.execute(sa.text("SELECT count(*) FROM web_queue WHERE n_undecided > 0 AND station_record_id = :p"),
                                {"p": world["person_b"]}).scalar()
    assert cards["held"] == str(len(stations) - 1)  # person B went home
    assert cards["waiting"] == str(waiting - waiting_b)
    assert (cards["sent"], cards["confirmed"], cards["home"], cards["to_home"]) == ("1", "1", "1", "30")
    table = _table(html)
    assert set(table) == set(per_station.index) | {"全省合计"}
    for station, n in per_station.items():
        held = n - (station == world["station_b"])
        assert table[station][0] == str(held), station
    assert table[world["station_a"]][2] == "1" and table[world["station_b"]][3:5] == ["1", "1"]
    assert table["全省合计"][:1] == [str(len(stations) - 1)]
    # the chart: one line per series, this month's reunion-free months, a legend in Chinese
    assert html.count("<polyline") == len(dashboard.SERIES) and "回家" in html and "<script" not in html.split("<main>")[1]


def test_median_days_to_the_first_candidate(world) -> None:
    """Per person: first candidate (or decision) day minus the found day; the median over persons."""
    with db.sessions(world["url"])() as s:
        fig = dashboard.compute(s)
        rows = s.execute(sa.text("SELECT c.station_record_id, min(c.created_at), json_extract(r.normalized, '$.found_date') "
                                 "FROM candidates c JOIN station_records r ON r.record_id = c.station_record_id AND r.is_current "
                                 "GROUP BY c.station_record_id")).all()
    days = sorted(max(0, (dashboard._day(dt.datetime.fromisoformat(str(first))) - dt.date.fromisoformat(found)).days)
                  for _, first, found in rows)
    n = len(days)
    median = days[n // 2] if n % 2 else (days[n // 2 - 1] + days[n // 2]) / 2
    assert fig.total.median_to_candidate == pytest.approx(median)


def test_the_dashboard_exports_as_xlsx(as_user, world, history) -> None:  # type: ignore[no-untyped-def]
    r = as_user("admin").get("/dashboard.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["各救助站", "按月"]
    rows = list(wb["各救助站"].iter_rows(values_only=True))
    header = rows.index(dashboard.HEADERS)
    data = {row[0]: row[1:] for row in rows[header + 1:]}
    assert data["全省合计"][:5] == (299, int(_cards(as_user("reviewer").get("/dashboard").text)["waiting"]), 1, 1, 1)
    months = list(wb["按月"].iter_rows(values_only=True))
    assert months[0][0] == "月份" and len(months) == dashboard.MONTHS + 1
    with db.engine(world["url"]).connect() as con:
        audit = con.execute(sa.text("SELECT actor FROM audit_log WHERE action = 'dashboard_export'")).scalars().all()
    assert audit == ["admin"]


@pytest.mark.parametrize("username, status", [("reviewer", 200), ("admin", 200), ("staff_a", 403), ("police", 403)])
def test_dashboard_roles(as_user, username, status) -> None:  # type: ignore[no-untyped-def]
    assert as_user(username).get("/dashboard").status_code == status
    assert as_user(username).get("/dashboard.xlsx").status_code == status


@pytest.mark.parametrize("today, first, last", [(dt.date(2026, 3, 15), "2024-04", "2026-03"), (dt.date(2025, 12, 1), "2024-01", "2025-12")])
def test_month_keys_end_this_month(today, first, last) -> None:  # type: ignore[no-untyped-def]
    keys = dashboard._month_keys(today)
    assert (keys[0], keys[-1], len(keys)) == (first, last, dashboard.MONTHS)


def test_the_chart_is_plain_svg_within_its_box() -> None:
    months = [(f"2026-{m:02d}", {"admitted": m, "first_candidate": 0, "sent": 2, "confirmed": 1, "home": 12 - m}) for m in range(1, 13)]
    svg = dashboard.chart_svg(months, width=600, height=200)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "script" not in svg
    points = [tuple(map(float, p.split(","))) for line in re.findall(r'points="([^"]+)"', svg) for p in line.split()]
    assert len(points) == 12 * len(dashboard.SERIES)
    assert all(0 <= x <= 600 and 0 <= y <= 200 for x, y in points)
    assert json.dumps(svg)  # text only
