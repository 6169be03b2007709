"""Control characters, invisible and text-direction characters, and formulas in cells: cleaned
with a warning naming them, or the value refused where cleaning would change its meaning."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from ingest_helpers import STATION_HEADER_EN, make_id, station_row, write_csv, write_xlsx

from xunqin.ingest import ingest_one
from xunqin.ingest.characters import SUSPECT, clean_cell, looks_like_formula
from xunqin.ingest.reasons import reason_text
from xunqin.ingest.schema import REPORT_COLUMNS

REPORT_EN = [c.name for c in REPORT_COLUMNS]
ID = make_id("411623", "19630315", "031")
US, ZWSP, RLO, PDF, LRM, BOM, RLI, PDI = "\x1f", "\u200b", "\u202e", "\u202c", "\u200e", "\ufeff", "\u2067", "\u2069"


def one_report(tmp_path: Path, **fields: str) -> tuple[dict, pd.DataFrame, object]:
    values = {c: "" for c in REPORT_EN} | {"report_id": "R1", "name": "测试甲", "missing_date": "2015-03-02"} | fields
    path = write_csv(tmp_path / "r.csv", [REPORT_EN, [values[c] for c in REPORT_EN]])
    df, rejects, counts = ingest_one(path, "reports")
    return (df.iloc[0].to_dict() if len(df) else {}), rejects, counts


# (column, cell, output column, expected output, [(severity, reason start, value shown)])
CASES = [
    # control characters stand where a separator was
    ("contact_phone", f"13912345678{US}13887654321", "contact_phone", "13912345678|13887654321",
     [("warning", "control characters replaced by spaces (U+001F)", "13912345678 13887654321")]),
    ("contact_phone", f"139{US}1234{US}5678", "contact_phone", "13912345678", [("warning", "control characters replaced", "139 1234 5678")]),
    ("id_number", f"{ID[:6]}\x07{ID[6:]}", "id_number", ID, [("warning", "control characters replaced by spaces (U+0007)", None)]),
    ("missing_place", "河南省周口市\x1e商水县", "missing_codes", "411623", [("warning", "control characters replaced by spaces (U+001E)", "河南省周口市 商水县")]),
    ("features", "左眉有疤\x85右手缺小指", "features", "左眉有疤 右手缺小指", [("warning", "control characters replaced by spaces (U+0085)", None)]),
    ("aliases", f"小红{US}阿明", "alias_clean", "小红|阿明", [("warning", "control characters replaced", "小红 阿明")]),
    ("missing_date", f"2015{US}03{US}02", "missing_date", pd.Timestamp("2015-03-02"), [("warning", "control characters replaced", None)]),
    ("name", f"测试乙{US}", "name_clean", "测试乙", [("warning", "control characters replaced by spaces (U+001F)", "测试乙 ")]),
    ("name", "\x7f测试乙", "name_clean", "测试乙", [("warning", "control characters replaced by spaces (U+007F)", None)]),
    # ... but inside a name nobody can tell one name from two
    ("name", f"张秀英{US}李建国", "name_clean", None, [("error", "control character inside a name", "张秀英 李建国")]),
    ("name", "测试\x00乙", "name_clean", "测试乙", [("warning", "NUL characters removed", "测试乙")]),  # encoding damage
    # invisible characters: removed everywhere
    ("name", f"测{ZWSP}试乙", "name_clean", "测试乙", [("warning", "invisible characters removed (U+200B)", "测试乙")]),
    ("contact_phone", f"{BOM}139{ZWSP}12345678{LRM}", "contact_phone", "13912345678",
     [("warning", "invisible characters removed (U+FEFF, U+200B, U+200E)", "13912345678")]),
    ("id_number", f"{ID}\u200d", "id_number", ID, [("warning", "invisible characters removed (U+200D)", None)]),
    ("hometown", f"河南省{ZWSP}周口市", "hometown_codes", "411600", [("warning", "invisible characters removed", "河南省周口市")]),
    # text-direction controls: refused where the order is the value, removed from free text
    ("contact_phone", f"{RLO}87654321931{PDF}", "contact_phone", None,
     [("error", "text-direction characters: the text shown is not the text stored (U+202E, U+202C)", "87654321931")]),
    ("id_number", f"{RLI}{ID}{PDI}", "id_number", None, [("error", "text-direction characters", ID[:6] + "********" + ID[-4:])]),
    ("name", f"{RLO}甲试测", "name_clean", None, [("error", "text-direction characters", "甲试测")]),
    ("missing_date", f"{RLO}2015-03-02", "missing_date", pd.NaT, [("error", "text-direction characters", None)]),
    ("features", f"左眉有疤{RLO}abc{PDF}", "features", "左眉有疤abc", [("warning", "text-direction characters removed (U+202E, U+202C)", None)]),
    ("missing_place", f"\u202b河南省周口市{PDF}", "missing_codes", "411600", [("warning", "text-direction characters removed", None)]),
    # formulas in names and addresses
    ("name", '=HYPERLINK("http://example.org","测试")', "name_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("name", "+测试乙", "name_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("name", "@测试乙", "name_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("name", " -测试乙", "name_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("name", "＝1+1", "name_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("name", f"{ZWSP}=1+1", "name_clean", None, [("warning", "invisible characters removed", "=1+1"), ("error", "starts like a spreadsheet formula", "=1+1")]),
    ("aliases", "=小红", "alias_clean", None, [("error", "starts like a spreadsheet formula", None)]),
    ("hometown", "=河南省周口市", "hometown_codes", None, [("error", "starts like a spreadsheet formula", None)]),
    ("missing_place", "-周口市", "missing_codes", None, [("error", "starts like a spreadsheet formula", None)]),
    ("missing_place", "+86 周口市", "missing_codes", None, [("error", "starts like a spreadsheet formula", None)]),
    ("hometown", "-", "hometown_codes", None, []),  # a dash alone is a blank marker
    ("hometown", "——", "hometown_codes", None, []),
    ("name", "测-试乙", "name_raw", "测-试乙", []),  # not at the start: fine
    ("contact_phone", "+86 139 1234 5678", "contact_phone", "13912345678", []),  # a phone may start with +
    ("features", "-左眉有疤", "features", "-左眉有疤", []),  # free text is defused when written, not refused
]


@pytest.mark.parametrize("column, cell, out_col, expected, problems", CASES)
def test_characters_in_cells(tmp_path: Path, column: str, cell: str, out_col: str, expected: object, problems: list) -> None:
    row, rejects, _ = one_report(tmp_path, **{column: cell})
    got = row[out_col]
    if expected is None or expected is pd.NaT:
        assert got is None or pd.isna(got), got
    else:
        assert got == expected
    mine = rejects[rejects["column"] == column]
    assert len(mine) == len(problems), mine.to_dict("records")
    for (severity, reason, shown), r in zip(problems, mine.itertuples()):
        assert (r.severity, r.reason[:len(reason)]) == (severity, reason)
        if shown is not None:
            assert r.value == shown
        assert r.reason_zh == reason_text(r.reason) and not r.reason_zh.startswith("数据有问题")
        assert not SUSPECT.search(r.value)  # what rejects show never holds the characters themselves
    assert row["report_id"] == "R1"


# (id cell, id stored or None when the row is refused, reason start)
ID_CASES = [
    (f"R0001{US}", "R0001", "control characters removed (U+001F)"),
    (f"R00{US}01", "R0001", "control characters removed (U+001F)"),
    ("\x01R0001\x02", "R0001", "control characters removed (U+0001, U+0002)"),
    (f"R0001{ZWSP}", "R0001", "invisible characters removed (U+200B)"),
    (f"{BOM}R0001", "R0001", "invisible characters removed (U+FEFF)"),
    (f"{RLO}1000R", None, "report_id unreadable (text-direction characters"),
    (f"{US}{US}", None, "empty report_id"),
]


@pytest.mark.parametrize("cell, stored, reason", ID_CASES)
def test_ids_are_cleaned_or_refused(tmp_path: Path, cell: str, stored: str | None, reason: str) -> None:
    row, rejects, counts = one_report(tmp_path, report_id=cell)
    if stored is None:
        assert counts.rows_refused == 1 and row == {}
        assert rejects["severity"].tolist() == ["refused"]
    else:
        assert row["report_id"] == stored
    assert any(r.startswith(reason) for r in rejects["reason"]), rejects.to_dict("records")
    assert all(not SUSPECT.search(v) for v in rejects["value"])


def test_an_id_with_a_control_character_never_reaches_the_database(tmp_path: Path) -> None:
    """The id of issue 14 (U+001F, the snapshot's own separator) stored for real: the database
    holds the cleaned id, and nothing in any stored text holds a control character."""
    from xunqin.ingest.read import read_table
    from xunqin.ingest.tables import normalize_reports
    from xunqin.store import db, records

    rows = [REPORT_EN] + [
        [{"report_id": rid, "name": name, "missing_date": "2015-03-02", "contact_phone": phone}.get(c, "") for c in REPORT_EN]
        for rid, name, phone in [(f"R1{US}", f"测试甲{US}", f"139{US}12345678"), ("R2", f"测{RLO}试乙", "13887654321"), (f"R{US}3", "测试丙", f"{ZWSP}13800000000")]
    ]
    path = write_csv(tmp_path / "r.csv", rows)
    raw = read_table(path, "reports")
    df, rejects = normalize_reports(raw)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    with db.sessions(url).begin() as s:
        records.add_records(s, kind="reports", file_name=path.name, content_hash=records.file_hash(path), raw=raw.data,
                         raw_rows=raw.source_row, normalized=df, rejects=rejects, run_id=None)
    with db.engine(url).connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT report_id FROM reports ORDER BY report_id"))]
        stored = [" ".join(str(v) for v in r) for table in ("reports", "rejects")
                  for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    assert ids == ["R1", "R2", "R3"]
    assert stored and not any(SUSPECT.search(text) or "\\u001f" in text.lower() or "\\u202e" in text.lower() for text in stored)


def test_xlsx_cells_are_checked_too(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", {"Sheet1": [STATION_HEADER_EN, station_row(f"S1{ZWSP}", name=f"{RLO}测试甲"), station_row("S2", name="+测试乙")]})
    df, rejects, _ = ingest_one(path, "stations")
    assert df["record_id"].tolist() == ["S1", "S2"]
    assert df["name_clean"].isna().all()
    assert sorted(rejects["reason"].str[:20]) == ["invisible characters", "starts like a spread", "text-direction chara"]


# clean_cell / looks_like_formula on their own: (column, text, cleaned or None)
CLEAN_CASES = [
    ("notes", "第一行\n第二行\t完", "第一行\n第二行\t完"),  # tab and line breaks are ordinary text
    ("notes", f"a{US}b", "a b"),
    ("record_id", f"a{US}b", "ab"),
    ("name", f"{US}测试{US}", " 测试 "),
    ("name", f"测{US}试", None),
    ("height_cm", f"{RLO}165", None),
    ("station", f"{RLO}长春站", "长春站"),
    ("gender", f"男{LRM}", "男"),
]


@pytest.mark.parametrize("column, text, cleaned", CLEAN_CASES)
def test_clean_cell(column: str, text: str, cleaned: str | None) -> None:
    assert clean_cell(text, column)[0] == cleaned


@pytest.mark.parametrize("text, formula", [("=1", True), ("+1", True), ("-1", True), ("@a", True), ("＠a", True), ("\u3000=1", True),
                                           ("\n-1", True), ("-", False), ("--", False), (" - ", False), ("—", False), ("a=1", False), ("", False)])
def test_looks_like_formula(text: str, formula: bool) -> None:
    assert looks_like_formula(text) is formula
