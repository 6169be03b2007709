"""A corpus of malformed and awkward exchange files: each is either refused with a reason naming
the column, or ingested with rows_in == rows_out + rows_refused and the expected rejects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ingest_helpers import (
    REPORT_HEADER_ZH,
    STATION_HEADER_EN,
    STATION_HEADER_ZH,
    bad_check,
    csv_text,
    make_id,
    station_row,
    write_csv,
    write_xlsx,
)

from xunqin.ingest import FileRefused, ingest_one

H = STATION_HEADER_ZH
R1 = station_row("S001")
R2 = station_row("S002", name="测试乙", gender="女")
GOOD_ID = make_id("110105", "19630101", "123")  # 男; about 60 in 2023


@dataclass(frozen=True)
class Refused:
    column: str | None
    why: str


@dataclass(frozen=True)
class Ingested:
    rows_in: int
    rows_out: int
    rows_refused: int = 0
    # (row, column, severity, reason fragment) that must be among the rejects
    rejects: tuple[tuple[int, str, str, str], ...] = ()
    values_rejected: int | None = None  # exact count when given
    ignored: tuple[str, ...] | None = None
    check: Callable | None = field(default=None, compare=False)  # extra check on (df, rejects, counts)


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return build


def _csv(name: str, rows, **kw) -> Callable[[Path], Path]:
    return lambda tmp: write_csv(tmp / name, rows, **kw)


def _xlsx(name: str, sheets, merge=None) -> Callable[[Path], Path]:
    return lambda tmp: write_xlsx(tmp / name, sheets, merge)


def _xlsx_renamed(name: str, sheets) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        src = write_xlsx(tmp / "real.xlsx", sheets)
        dst = tmp / name
        src.rename(dst)
        return dst

    return build


def _col(df, column):
    return df[column].tolist()


CASES: list[tuple[str, Callable[[Path], Path], str, Refused | Ingested]] = [
    # ---------------------------------------------------------------- refused files
    ("empty file", _bytes("empty.csv", b""), "stations", Refused(None, "empty file")),
    ("whitespace only", _bytes("blank.csv", b"  \r\n\r\n\t\n"), "stations", Refused(None, "empty file")),
    ("BOM only", _bytes("bom.csv", b"\xef\xbb\xbf"), "stations", Refused(None, "empty file")),
    ("UTF-16 with BOM", _bytes("u16.csv", csv_text([H, R1]).encode("utf-16")), "stations", Refused(None, "UTF-16")),
    ("UTF-16-LE without BOM", _bytes("u16le.csv", csv_text([H, R1]).encode("utf-16-le")), "stations", Refused(None, "NUL bytes")),
    ("Latin-1 bytes", _bytes("latin1.csv", "编号,救助站,救助日期\n1,café,2023\n".encode("utf-8")[:10] + b"caf\xe9\n"), "stations", Refused(None, "encoding")),
    ("Latin-1 file", _bytes("latin1b.csv", "record_id,station,found_date\nS1,Caf\xe9 \xe0 Paris,2023-05-01\n".encode("latin-1")), "stations", Refused(None, "encoding")),
    ("no header row", _csv("nohead.csv", [R1, R2]), "stations", Refused(None, "no header row")),
    ("wrong headers", _csv("wrong.csv", [["a", "b", "c"], ["1", "2", "3"]]), "stations", Refused(None, "no header row")),
    ("missing required column", _csv("nodate.csv", [["编号", "救助站", "姓名"], ["S1", "长春站", "测试甲"]]), "stations", Refused("found_date", "救助日期")),
    ("序号 is not an id", _csv("xuhao.csv", [["序号", "救助站", "救助日期"], ["1", "长春站", "2023-05-01"]]), "stations", Refused("record_id", "required column missing")),
    ("duplicate header", _csv("dup.csv", [["编号", "救助站", "姓名", "救助日期", "姓名"], ["S1", "站", "测试甲", "2023-05-01", "测试乙"]]), "stations", Refused("name", "duplicate header")),
    ("duplicate via variant", _csv("dupv.csv", [["编号", "救助站", "救助日期", "身份证号", "身份证号码"], ["S1", "站", "2023-05-01", "", ""]]), "stations", Refused("id_number", "duplicate header")),
    ("reports given as stations", _csv("rep.csv", [REPORT_HEADER_ZH, ["R1"] + [""] * 13]), "stations", Refused("station", "救助站")),
    ("broken zip named xlsx", _bytes("broken.xlsx", b"PK\x03\x04" + b"garbage" * 20), "stations", Refused(None, "XLSX")),
    ("legacy xls", _bytes("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600), "stations", Refused(None, ".xls")),
    ("xlsx without any header", _xlsx("nohead.xlsx", {"Sheet": [["x", 1], ["y", 2]]}), "stations", Refused(None, "no header row")),
    ("empty xlsx", _xlsx("empty.xlsx", {"Sheet": []}), "stations", Refused(None, "empty file")),
    ("NUL-heavy binary", _bytes("bin.csv", b"\x00\x01PK\x00\xff" * 300), "stations", Refused(None, "NUL bytes")),
    # ---------------------------------------------------------------- ingested files
    ("only a header", _csv("head.csv", [H]), "stations", Ingested(0, 0)),
    ("BOM and CRLF", lambda t: (t / "bom.csv").write_bytes(b"\xef\xbb\xbf" + csv_text([H, R1, R2], eol="\r\n").encode()) and t / "bom.csv",
     "stations", Ingested(2, 2, check=lambda df, rj, c: _col(df, "name_clean") == ["测试甲", "测试乙"] and c.encoding == "utf-8-sig")),
    ("GB18030", _csv("gb.csv", [H, R1, station_row("S002", name="曾國藩", hometown="河南省周口市商水县")], encoding="gb18030"), "stations",
     Ingested(2, 2, check=lambda df, rj, c: c.encoding == "gb18030" and df["hometown_codes"].tolist()[1] == "411623")),
    ("trailing empty rows", _csv("trail.csv", [H, R1, [""] * 13, [""] * 13, []]), "stations",
     Ingested(1, 1, check=lambda df, rj, c: c.blank_rows == 3)),
    ("template rows with only 序号", _csv("tmpl.csv", [["序号", *H], ["1", *R1], ["2"] + [""] * 13, ["3"] + [" "] * 13]), "stations",
     Ingested(1, 1, ignored=("序号",), check=lambda df, rj, c: c.blank_rows == 2)),
    ("sparse NUL bytes", _bytes("nul.csv", csv_text([H, station_row("S1", name="测试\x00甲")] + [station_row(f"S{i}") for i in range(2, 200)]).encode()), "stations",
     Ingested(199, 199, rejects=((2, "name", "warning", "NUL"),), check=lambda df, rj, c: df["name_raw"].iloc[0] == "测试甲" and "\x00" not in df.to_csv())),
    ("extra columns reported once", _csv("extra.csv", [["照片", *H, "其他", "其他"], ["x", *R1, "y", "z"], ["x", *R2, "y", "z"]]), "stations",
     Ingested(2, 2, ignored=("照片", "其他"))),
    ("Chinese headers in another order", _csv("order.csv", [list(reversed(H)), list(reversed(R1)), list(reversed(R2))]), "stations",
     Ingested(2, 2, check=lambda df, rj, c: _col(df, "record_id") == ["S001", "S002"] and _col(df, "gender") == ["男", "女"])),
    ("English headers", _csv("en.csv", [STATION_HEADER_EN, R1]), "stations", Ingested(1, 1)),
    ("header variants, spaces, full-width, markers", _csv("var.csv", [["记录编号", " 救助站* ", "姓 名", "受助日期", "年龄", "身高（cm）", "身份证号码", "ＮＡＭＥ２"],
                                                                      ["S1", "站", "测试甲", "2023年5月1日", "60多岁", "1.7米", GOOD_ID, "x"]]), "stations",
     Ingested(1, 1, ignored=("NAME2",), check=lambda df, rj, c: df["height_cm"].iloc[0] == 170 and df["age_low"].iloc[0] >= 60 and df["id_number"].iloc[0] == GOOD_ID)),
    ("title row above header", _csv("title.csv", [["2023年长春市救助管理站受助人员名单"], H, R1, R2]), "stations",
     Ingested(2, 2, check=lambda df, rj, c: _col(df, "source_row") == [3, 4] and c.header_row == 2)),
    ("quotes and embedded newlines", _csv("quotes.csv", [H, station_row("S1", features='穿"红色"外套,\n左手缺小指', notes="第一行\r\n第二行")]), "stations",
     Ingested(1, 1, check=lambda df, rj, c: "\n" in df["features"].iloc[0] and '"红色"' in df["features"].iloc[0])),
    ("unterminated quote swallows the rest", _bytes("unterminated.csv", (csv_text([H, R1]) + 'S9,站,"测试,2023-05-01\n' + csv_text([R2])).encode()), "stations",
     Ingested(2, 2, check=lambda df, rj, c: _col(df, "record_id") == ["S001", "S9"])),
    ("tab separated", _csv("tab.csv", [H, R1, R2], sep="\t"), "stations", Ingested(2, 2)),
    ("semicolon separated", _csv("semi.csv", [H, R1, R2], sep=";"), "stations", Ingested(2, 2)),
    ("broken dates", _csv("dates.csv", [H, station_row("S1", found="2023-02-30"), station_row("S2", found="明天"), station_row("S3", found="2023/5/1")]), "stations",
     Ingested(3, 3, values_rejected=2, rejects=((2, "found_date", "error", ""), (3, "found_date", "error", "")),
              check=lambda df, rj, c: df["found_date"].isna().tolist() == [True, True, False] and df["name_clean"].iloc[0] == "测试甲")),
    ("bad ID check digit", _csv("badid.csv", [H, station_row("S1", id_number=bad_check(GOOD_ID)), station_row("S2", id_number=GOOD_ID)]), "stations",
     Ingested(2, 2, values_rejected=1, rejects=((2, "id_number", "error", "check"),),
              check=lambda df, rj, c: df["id_number"].tolist() == [None, GOOD_ID] and df["id_gender"].iloc[1] == "男")),
    ("duplicate record ids", _csv("dupid.csv", [H, R1, station_row("S001", name="测试乙"), station_row(" S001 "), R2]), "stations",
     Ingested(4, 2, 2, rejects=((3, "record_id", "refused", "first at row 2"), (4, "record_id", "refused", "duplicate")),
              check=lambda df, rj, c: _col(df, "name_clean") == ["测试甲", "测试乙"] and _col(df, "record_id") == ["S001", "S002"])),
    ("empty record id", _csv("noid.csv", [H, station_row(""), station_row("  "), R2]), "stations",
     Ingested(3, 1, 2, rejects=((2, "record_id", "refused", "empty"), (3, "record_id", "refused", "empty")))),
    ("giant fields", _csv("giant.csv", [H, station_row("S1", name="测" * 5000, notes="备注" * 3000, found="2" * 3000)]), "stations",
     Ingested(1, 1, values_rejected=2, rejects=((2, "name", "error", "2000"), (2, "notes", "warning", "clipped"), (2, "found_date", "error", "2000")),
              check=lambda df, rj, c: len(df["notes"].iloc[0]) == 2000 and df["name_kind"].iloc[0] == "empty" and rj["value"].str.len().max() == 2000)),
    ("giant record id refuses the row", _csv("giantid.csv", [H, station_row("9" * 2500), R2]), "stations",
     Ingested(2, 1, 1, rejects=((2, "record_id", "refused", "2000"),), check=lambda df, rj, c: rj["value"].iloc[0] == "9" * 2000)),
    ("Excel error values", _csv("errs.csv", [H, station_row("S1", name="#N/A", height_cm="#VALUE!")]), "stations",
     Ingested(1, 1, values_rejected=2, rejects=((2, "name", "error", "Excel error"), (2, "height_cm", "error", "Excel error")))),
    ("CSV named .xlsx", _csv("text.xlsx", [H, R1]), "stations", Ingested(1, 1, check=lambda df, rj, c: any(".xlsx holds text" in n for n in c.notes))),
    ("XLSX named .csv", _xlsx_renamed("book.csv", {"Sheet1": [H, R1]}), "stations", Ingested(1, 1, check=lambda df, rj, c: any("XLSX content" in n for n in c.notes))),
    ("XLSX formulas", _xlsx("formula.xlsx", {"Sheet1": [H, station_row("S1", name="=1+1"), station_row("S2", notes='=HYPERLINK("http://example.org","测试")'), station_row("=\"S\"&3")]}), "stations",
     Ingested(3, 2, 1, values_rejected=2, rejects=((2, "name", "error", "formula"), (3, "notes", "error", "formula"), (4, "record_id", "refused", "formula")),
              check=lambda df, rj, c: "=1+1" in rj["value"].tolist() and '="S"&3' in rj["value"].tolist() and df["notes"].isna().all())),
    ("XLSX two sheets, data on the second", _xlsx("two.xlsx", {"说明": [["请按模板填写"], ["编号为必填"]], "名单": [H, R1, R2]}), "stations",
     Ingested(2, 2, check=lambda df, rj, c: c.sheet == "名单")),
    ("XLSX numbers typed as numbers", _xlsx("nums.xlsx", {"Sheet1": [H, station_row(1.0, found=45047, height_cm=165.0, estimated_age=60), station_row(2, found=dt.datetime(2023, 5, 2), height_cm=1.65, estimated_age=55.5)]}), "stations",
     Ingested(2, 2, check=lambda df, rj, c: _col(df, "record_id") == ["1", "2"] and _col(df, "height_cm") == [165.0, 165.0]
              and [d.date() for d in df["found_date"]] == [dt.date(2023, 5, 1), dt.date(2023, 5, 2)])),
    ("XLSX ID typed as a number loses digits", _xlsx("idnum.xlsx", {"Sheet1": [H, station_row("S1", id_number=float(GOOD_ID[:17] + "1"))]}), "stations",
     Ingested(1, 1, values_rejected=1, rejects=((2, "id_number", "error", "digits were lost"),))),
    ("XLSX merged title row", _xlsx("merged.xlsx", {"Sheet1": [["受助人员名单"] + [None] * 12, H, R1]}, merge={"Sheet1": "A1:M1"}), "stations",
     Ingested(1, 1, check=lambda df, rj, c: _col(df, "source_row") == [3])),
    ("XLSX trailing empty rows", _xlsx("trail.xlsx", {"Sheet1": [H, R1, [None] * 13, [None] * 13]}), "stations", Ingested(1, 1)),
    ("reports XLSX with a year typed as a number", _xlsx("rep.xlsx", {"Sheet1": [REPORT_HEADER_ZH, ["R1", "家属", "测试甲", "", "女", 1965, 50, "", 42064, "", "", "", "", 13800000000]]}), "reports",
     Ingested(1, 1, check=lambda df, rj, c: df["birth_precision"].iloc[0] == "year" and df["birth_date"].iloc[0].year == 1965
              and df["contact_phone"].iloc[0] == "13800000000" and df["missing_date"].iloc[0].year == 2015)),
]


@pytest.mark.parametrize("case_id, build, kind, expected", CASES, ids=[c[0] for c in CASES])
def test_corpus(tmp_path: Path, case_id: str, build, kind: str, expected) -> None:
    path = build(tmp_path)
    if isinstance(expected, Refused):
        with pytest.raises(FileRefused) as info:
            ingest_one(path, kind)
        assert info.value.column == expected.column
        assert expected.why in info.value.why
        assert info.value.file == str(path)
        return
    df, rejects, counts = ingest_one(path, kind)
    assert counts.rows_in == counts.rows_out + counts.rows_refused
    assert (counts.rows_in, counts.rows_out, counts.rows_refused) == (expected.rows_in, expected.rows_out, expected.rows_refused)
    assert len(df) == counts.rows_out
    assert (rejects["severity"] == "refused").sum() == counts.rows_refused
    assert set(rejects["file"]) <= {path.name}
    if expected.values_rejected is not None:
        assert counts.values_rejected == expected.values_rejected, rejects.to_dict("records")
    for row, column, severity, reason in expected.rejects:
        hit = rejects[(rejects["row"] == row) & (rejects["column"] == column) & (rejects["severity"] == severity)]
        assert len(hit) == 1, (row, column, severity, rejects.to_dict("records"))
        assert reason in hit["reason"].iloc[0]
    if expected.ignored is not None:
        assert counts.ignored_columns == expected.ignored
    if expected.check is not None:
        assert expected.check(df, rejects, counts)
    # a text column's missing cells are None, never NaN (the helpers see to it per distinct value)
    for column in df.select_dtypes(include="object").columns:
        kinds = {type(v).__name__ for v in df[column] if not isinstance(v, str)}
        assert kinds <= {"NoneType"}, (column, kinds)


def test_corpus_is_big_enough() -> None:
    assert sum(isinstance(c[3], Refused) for c in CASES) >= 10
    assert len(CASES) >= 20


@pytest.mark.parametrize("missing", ["not_there.csv", "dir"])
def test_unreadable_paths_are_refused(tmp_path: Path, missing: str) -> None:
    path = tmp_path / missing
    if missing == "dir":
        path.mkdir()
    with pytest.raises(FileRefused) as info:
        ingest_one(path, "stations")
    assert info.value.column is None
    assert ("not found" in info.value.why) or ("directory" in info.value.why)
