"""Search: by name as written or heard (the matcher's pinyin and dialect-folded keys), ID number or
tail, record number, place, date range; staff within their station; audited; IDs masked."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.store import db, search

# A surname and how it is misheard: the same dialect-folded sound (方言近音), the same pinyin
# (同音), or only the given name sounds alike (名字同音: 吴 wu / 胡 hu fold apart).
MISHEARD = {
    "方言近音": {"刘": "牛", "牛": "刘", "黄": "方", "张": "臧", "陈": "岑", "岑": "陈", "王": "万", "万": "王"},
    "同音": {"李": "黎", "杨": "阳", "孙": "荪", "马": "玛", "闫": "严", "徐": "许", "许": "徐"},
    "名字同音": {"吴": "胡", "胡": "吴", "赵": "钱", "郭": "孙"},
}


def _records(url: str, table: str) -> list[dict]:
    with db.engine(url).connect() as con:
        rows = con.execute(sa.text(f"SELECT raw, normalized FROM {table} WHERE is_current")).all()
    return [{**json.loads(raw), "_norm": json.loads(norm)} for raw, norm in rows]


def _shown(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-kind="(\w+)" data-id="([^"]+)">', html)


def _person_to_mishear(url: str, table: dict[str, str], station: str | None = None) -> tuple[dict, str]:
    for rec in _records(url, "station_records"):
        norm = rec["_norm"]
        if norm.get("name_kind") != "full" or not norm.get("given") or (station and norm["station"] != station):
            continue
        surname = norm.get("surname")
        if surname in table:
            return rec, table[surname] + norm["given"]
    raise AssertionError("the sample has no station record with such a surname")


@pytest.mark.parametrize("how", list(MISHEARD))
def test_a_misheard_name_finds_the_person(as_user, world, how) -> None:  # type: ignore[no-untyped-def]
    rec, heard = _person_to_mishear(world["url"], MISHEARD[how])
    assert heard != rec["name"]
    r = as_user("reviewer").get("/search", params={"name": heard})
    assert r.status_code == 200
    rows = _shown(r.text)
    assert ("stations", rec["record_id"]) in rows
    row = r.text.split(f'data-id="{rec["record_id"]}"')[1].split("</tr>")[0]
    assert f"<td>{how}</td>" in row


def test_wu_chunhua_finds_hu_chunhua_before_names_that_sound_less_alike(db_url) -> None:
    """The issue's example, on keys of made-up rows: 胡春花 shares only the given name's sound."""
    frame = pd.DataFrame({"record_id": ["A", "B", "C", "D"], "station": ["X"] * 4,
                          "name_clean": ["胡春花", "苑春华", "李秀英", "吴春花"], "name_kind": ["full"] * 4,
                          "name_folded": ["fu cun fa", "yuan cun fa", "li xiu yin", "wu cun fa"],
                          "given_folded": ["cun fa", "cun fa", "xiu yin", "cun fa"]})
    with db.sessions(db_url)() as s:  # never committed
        s.execute(sa.delete(search.SearchKey))
        s.execute(sa.insert(search.SearchKey), search.record_keys("stations", frame).to_dict("records"))
        found = search.find(s, search.Query(name="吴春花", kinds=("stations",)))
        assert found.total == 3  # 吴春花 itself, 胡春花 and 苑春华 by the given name; not 李秀英
    heard = ("wu cun fa",)
    hu, yuan = (search.Hit("stations", rid, 2, {}, {"name_folded": folded}) for rid, folded in (("A", "fu cun fa"), ("B", "yuan cun fa")))
    assert search._sound_closeness(heard, hu) > search._sound_closeness(heard, yuan)


@pytest.mark.parametrize("params, expect_kind", [
    ({"number": "{station_record}"}, "stations"),
    ({"number": "{report}"}, "reports"),
    ({"id_number": "{id}"}, "stations"),
    ({"id_number": "{tail}"}, "stations"),
    ({"id_number": "{tail6}"}, "stations"),
])
def test_numbers_and_id_numbers_find_the_record(as_user, world, params, expect_kind) -> None:  # type: ignore[no-untyped-def]
    with_id = next(r for r in _records(world["url"], "station_records") if r.get("id_number"))
    report = _records(world["url"], "reports")[7]
    values = {"station_record": with_id["record_id"], "report": report["report_id"], "id": with_id["id_number"],
              "tail": with_id["id_number"][-4:], "tail6": with_id["id_number"][-6:]}
    query = {k: v.format(**values) for k, v in params.items()}
    rows = _shown(as_user("reviewer").get("/search", params=query).text)
    wanted = with_id["record_id"] if expect_kind == "stations" else report["report_id"]
    assert (expect_kind, wanted) in rows
    if params.get("id_number") == "{tail6}":  # a longer tail is checked in full, not only its last four
        by_id = {("stations", r["record_id"]): r for r in _records(world["url"], "station_records")}
        by_id.update({("reports", r["report_id"]): r for r in _records(world["url"], "reports")})
        for kind, rid in rows:
            norm = by_id[(kind, rid)]["_norm"]
            assert (norm.get("id_number") or "").endswith(values["tail6"]) or norm.get("id_fragments"), rid


def test_place_and_date_range_narrow_each_other(as_user, world) -> None:  # type: ignore[no-untyped-def]
    c = as_user("reviewer")
    henan = _shown(c.get("/search", params={"place": "河南", "scope": "stations"}).text)
    recent = _shown(c.get("/search", params={"date_from": "2026-01-01", "scope": "stations"}).text)
    both_html = c.get("/search", params={"place": "河南", "date_from": "2026-01-01", "scope": "stations"}).text
    both = _shown(both_html)
    assert henan and recent and both
    records = {r["record_id"]: r for r in _records(world["url"], "station_records")}
    for _, rid in both:
        norm = records[rid]["_norm"]
        assert norm["found_date"] >= "2026-01-01"
        codes = (norm.get("hometown_codes") or "") + "|" + (norm.get("found_codes") or "")
        assert any(code.startswith("41") for code in codes.split("|"))
    assert set(both) <= set(henan) or len(henan) == 50  # (a page shows at most 50)
    total = int(re.search(r"找到 (\d+) 条", both_html).group(1))
    expected = sum(1 for r in records.values() if r["_norm"]["found_date"] >= "2026-01-01" and any(
        c.startswith("41") for c in ((r["_norm"].get("hometown_codes") or "") + "|" + (r["_norm"].get("found_codes") or "")).split("|") if c))
    assert total == expected


def test_staff_search_their_own_station_only(as_user, world) -> None:  # type: ignore[no-untyped-def]
    mine = next(r for r in _records(world["url"], "station_records") if r["_norm"]["station"] == world["station_a"] and r.get("name"))
    other = next(r for r in _records(world["url"], "station_records")
                 if r["_norm"]["station"] != world["station_a"] and r["_norm"].get("name_kind") == "full")
    staff = as_user("staff_a")
    assert ("stations", mine["record_id"]) in _shown(staff.get("/search", params={"name": mine["name"]}).text)
    r = staff.get("/search", params={"name": other["name"]})
    assert all(kind == "stations" for kind, _ in _shown(r.text))
    assert ("stations", other["record_id"]) not in _shown(r.text) and other["_norm"]["station"] not in r.text
    # a report number is not found by station staff; by a reviewer it is
    report = _records(world["url"], "reports")[0]["report_id"]
    assert _shown(staff.get("/search", params={"number": report}).text) == []
    assert ("reports", report) in _shown(as_user("reviewer").get("/search", params={"number": report}).text)


def test_searches_are_audited_without_what_was_typed(as_user, world) -> None:  # type: ignore[no-untyped-def]
    rec, heard = _person_to_mishear(world["url"], MISHEARD["方言近音"])
    c = as_user("reviewer")
    c.get("/search", params={"name": heard, "date_from": "2000-01-01"})
    c.get("/search")  # the empty form: nothing searched, nothing audited
    with db.engine(world["url"]).connect() as con:
        rows = con.execute(sa.text("SELECT actor, detail FROM audit_log WHERE action = 'search'")).all()
    assert len(rows) == 1 and rows[0][0] == "reviewer"
    detail = json.loads(rows[0][1])
    assert detail["criteria"] == ["name", "date_from"] and f"S:{rec['record_id']}" in detail["shown"]
    assert heard not in rows[0][1]


def test_staff_see_masked_id_numbers_and_a_reviewer_the_full_ones_after_an_audited_click(as_user, world) -> None:  # type: ignore[no-untyped-def]
    with_id = next(r for r in _records(world["url"], "station_records") if r.get("id_number"))
    full, masked = with_id["id_number"], with_id["id_number"][:6] + "*" * 8 + with_id["id_number"][-4:]
    station = with_id["_norm"]["station"]
    with db.sessions(world["url"]).begin() as s:
        from xunqin.web import auth

        auth.add_user(s, "staff_id", "s3cret-pass", "staff", station)
    staff = as_user("staff_id")
    page = staff.get("/search", params={"number": with_id["record_id"]}).text
    assert masked in page and full not in page and "显示完整身份证号" not in page
    assert staff.get("/search", params={"number": with_id["record_id"], "ids": "full"}).status_code == 403
    reviewer = as_user("reviewer")
    page = reviewer.get("/search", params={"number": with_id["record_id"]}).text
    assert masked in page and full not in page
    link = re.search(r'<a class="ids-link" id="show-full-ids" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    page = reviewer.get(link).text
    assert full in page
    with db.engine(world["url"]).connect() as con:
        views = con.execute(sa.text("SELECT actor, detail FROM audit_log WHERE action = 'id_number_view'")).all()
    assert [v[0] for v in views] == ["reviewer"] and f"S:{with_id['record_id']}" in views[0][1]


@pytest.mark.parametrize("params, message", [
    ({"name": "王某"}, "只有姓氏"),
    ({"name": "无名氏"}, "不像是姓名"),
    ({"id_number": "12"}, "最后 4 位"),
    ({"place": "火星基地"}, "没有认出地点"),
    ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, "结束日期早于开始日期"),
    ({"date_from": "2025-13-01"}, "格式应为"),
])
def test_a_query_that_cannot_be_read_is_a_400_in_chinese(as_user, params, message) -> None:  # type: ignore[no-untyped-def]
    r = as_user("reviewer").get("/search", params=params)
    assert r.status_code == 400 and message in r.text


@pytest.mark.parametrize("username, status", [("staff_a", 200), ("reviewer", 200), ("admin", 200), ("police", 403)])
def test_search_roles(as_user, username, status) -> None:  # type: ignore[no-untyped-def]
    assert as_user(username).get("/search", params={"name": "张伟"}).status_code == status


# (normalized row fields, key rows expected among the record's keys, keys that must not be there)
KEY_CASES = [
    ("stations", {"record_id": "S1", "station": "商丘市救助管理站", "name_clean": "刘德华", "name_kind": "full",
                  "name_folded": "liu de fa", "given_folded": "de fa", "found_date": "2024-03-05",
                  "found_codes": "411400|411422", "hometown_codes": "410000"},
     {("name", "刘德华"), ("sound", "liu de fa"), ("given", "de fa"), ("date", "2024-03-05"), ("place", "411422"),
      ("place", "410000"), ("station", "商丘市救助管理站")}, set()),
    ("stations", {"record_id": "S2", "station": "X站", "name_clean": "无名氏", "name_kind": "placeholder",
                  "id_number": "", "id_fragments": "tail:1234", "found_date": None},
     {("tail", "1234")}, {("name", "无名氏")}),
    ("reports", {"report_id": "R1", "name_clean": "王秀英", "name_kind": "full", "name_folded": "wan xiu yin|wan xiu yan",
                 "given_folded": "xiu yin|xiu yan", "alias_clean": "英子", "alias_folded": "yin zi",
                 "id_number": "41162319630315031X", "missing_date": "2019-05-01", "missing_codes": "411623"},
     {("name", "王秀英"), ("name", "英子"), ("sound", "wan xiu yin"), ("sound", "wan xiu yan"), ("sound", "yin zi"),
      ("id", "41162319630315031X"), ("tail", "031X"), ("date", "2019-05-01"), ("place", "411623")}, {("station", "")}),
    # a sound held twice and by the alias too is one key; a key is cut at KEY_MAX characters
    ("reports", {"report_id": 7, "name_clean": "王" * 250, "name_kind": "full", "name_folded": "wan|wan||",
                 "alias_folded": "wan", "missing_date": float("nan"), "id_number": None},
     {("sound", "wan"), ("name", "王" * search.KEY_MAX)}, {("name", "王" * 250), ("sound", ""), ("date", "nan")}),
]


@pytest.mark.parametrize("kind, row, present, absent", KEY_CASES)
def test_record_keys(kind, row, present, absent) -> None:  # type: ignore[no-untyped-def]
    keys = search.record_keys(kind, pd.DataFrame([row]))
    got = set(zip(keys["key_type"], keys["key"]))
    assert present <= got and not (absent & got)
    assert set(keys["kind"]) == {kind} and len(got) == len(keys)  # one row per distinct key
    assert set(keys["record_id"]) == {str(row["record_id" if kind == "stations" else "report_id"])}


def test_a_new_version_replaces_the_keys_of_the_old_one(world, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A station sends a record again with the name corrected: the old name finds it no more."""
    rec = next(r for r in _records(world["url"], "station_records") if r["_norm"].get("name_kind") == "full")
    raw = {k: v for k, v in rec.items() if k != "_norm"}
    new_name = "欧阳春生" if rec["name"] != "欧阳春生" else "欧阳秋生"
    path = tmp_path / "inbox" / "again.csv"
    path.parent.mkdir()
    pd.DataFrame([{**raw, "name": new_name}]).to_csv(path, index=False)
    from xunqin.flows import steps

    steps.take_file(world["url"], str(path), str(tmp_path / "a"), str(tmp_path / "q"), None)
    with db.sessions(world["url"])() as s:
        assert search.lag(s) == 0
        old = search.find(s, search.Query(name=rec["name"], kinds=("stations",)))
        new = search.find(s, search.Query(name=new_name, kinds=("stations",)))
    assert rec["record_id"] not in [x.record_id for x in old.hits if x.level == 0]
    assert [x.record_id for x in new.hits if x.level == 0] == [rec["record_id"]]


def test_the_search_page_catches_up_an_index_that_lags_a_little(as_user, world) -> None:  # type: ignore[no-untyped-def]
    from xunqin.store import workstation

    with db.sessions(world["url"]).begin() as s:  # the newest station record as if stored after the index
        last = s.execute(sa.text("SELECT id, record_id FROM station_records ORDER BY id DESC LIMIT 1")).one()
        s.execute(sa.delete(search.SearchKey).where(search.SearchKey.record_id == last.record_id))
        workstation.set_value(s, "search_index_stations", str(last.id - 1))
    c = as_user("reviewer")
    assert ("stations", last.record_id) in _shown(c.get("/search", params={"number": last.record_id}).text)
    with db.sessions(world["url"])() as s:
        assert search.lag(s) == 0


def test_dates_are_compared_as_days(db_url) -> None:
    with db.sessions(db_url)() as s:
        a = search.find(s, search.Query(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 31), kinds=("stations",)))
        for hit in a.hits:
            assert "2026-01-01" <= hit.normalized["found_date"] <= "2026-01-31"
