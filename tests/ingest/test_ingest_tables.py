"""Field-by-field normalization, rejects, cross-field warnings and the written result."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ingest_helpers import REPORT_HEADER_ZH, STATION_HEADER_EN, STATION_HEADER_ZH, bad_check, make_id, station_row, write_csv

from xunqin.ingest import FileCounts, IngestResult, ingest_files, ingest_one, write_result
from xunqin.ingest.read import read_table
from xunqin.ingest.reasons import mask_id_number, reason_text
from xunqin.ingest.schema import REPORT_COLUMNS, STATION_COLUMNS, columns, header_map, normalize_header
from xunqin.ingest.tables import REPORT_OUTPUT, STATION_OUTPUT, normalize_reports, normalize_stations

MALE_ID = make_id("411623", "19630315", "031")  # 河南周口商水, 男
FEMALE_ID = make_id("220102", "19650701", "022")  # 女
REPORT_EN = [c.name for c in REPORT_COLUMNS]


def _nan_eq(a, b) -> bool:
    if isinstance(b, float) and math.isnan(b):
        return a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT
    if b is None:
        return a is None or a is pd.NaT or (isinstance(a, float) and math.isnan(a))
    if isinstance(a, pd.Timestamp):
        return a.date().isoformat() == b
    return a == b


def one_station(tmp_path: Path, **fields) -> tuple[dict, pd.DataFrame]:
    path = write_csv(tmp_path / "s.csv", [STATION_HEADER_EN, station_row("S1", **fields)])
    df, rejects, counts = ingest_one(path, "stations")
    assert counts.rows_in == counts.rows_out + counts.rows_refused == 1
    return df.iloc[0].to_dict(), rejects


def one_report(tmp_path: Path, **fields) -> tuple[dict, pd.DataFrame]:
    values = {c: "" for c in REPORT_EN} | {"report_id": "R1", "name": "测试甲", "missing_date": "2015-03-02"} | fields
    path = write_csv(tmp_path / "r.csv", [REPORT_EN, [values[c] for c in REPORT_EN]])
    df, rejects, counts = ingest_one(path, "reports")
    assert counts.rows_in == counts.rows_out == 1
    return df.iloc[0].to_dict(), rejects


# (input field, raw value, expected output columns, reject reason fragment or None)
STATION_FIELDS = [
    ("gender", "M", {"gender": "男"}, None),
    ("gender", "女性", {"gender": "女"}, None),
    ("gender", "未知", {"gender": None}, None),
    ("gender", "  ", {"gender": None}, None),
    ("gender", "xyz", {"gender": None}, "gender"),
    ("estimated_age", "约60岁", {"age_low": 57.0, "age_high": 63.0}, None),
    ("estimated_age", "六十来岁", {"age_low": 57.0, "age_high": 63.0}, None),
    ("estimated_age", "不详", {"age_low": math.nan, "age_high": math.nan}, None),
    ("estimated_age", "300岁", {"age_low": math.nan}, "implausible"),
    ("found_date", "2023年5月1日", {"found_date": "2023-05-01", "found_date_precision": "day"}, None),
    ("found_date", "20230501", {"found_date": "2023-05-01"}, None),
    ("found_date", "2023年5月", {"found_date": "2023-05-15", "found_date_precision": "month"}, None),
    ("found_date", "2023-02-30", {"found_date": None, "found_date_precision": None}, "day"),
    ("found_date", "2999-01-01", {"found_date": None}, "year"),
    ("height_cm", "1.65米", {"height_cm": 165.0}, None),
    ("height_cm", "约1.7米", {"height_cm": 170.0}, None),
    ("height_cm", "９９９", {"height_cm": math.nan}, "height"),
    ("hometown", "河南省周口市商水县", {"hometown_level": "county", "hometown_codes": "411623", "hometown_prefectures": "411600", "hometown_provinces": "410000"}, None),
    ("hometown", "周口", {"hometown_level": "prefecture", "hometown_codes": "411600", "hometown_provinces": "410000"}, None),
    ("hometown", "火星", {"hometown": "火星", "hometown_codes": None, "hometown_level": None}, None),
    ("found_place", "河南省周口市", {"found_codes": "411600", "found_province": "410000"}, None),
    ("dialect", "河南口音", {"dialect": "河南口音", "dialect_provinces": "410000"}, None),
    ("dialect", "无法交流", {"dialect_provinces": None}, None),
    ("features", "左眉有疤，智力障碍", {"marks": "疤::|疤:眉:|疤:眉:左", "conditions": "智力障碍"}, None),
    ("id_number", MALE_ID, {"id_number": MALE_ID, "id_region": "411623", "id_birth": "1963-03-15", "id_gender": "男"}, None),
    ("id_number", bad_check(MALE_ID), {"id_number": None, "id_birth": None}, "check digit"),
    ("id_number", "12345", {"id_number": None}, "18"),
    ("notes", "自述身份证尾号1234", {"id_fragments": "tail:1234", "notes": "自述身份证尾号1234"}, None),
    ("name", "曾国藩", {"name_clean": "曾国藩", "name_kind": "full", "surname": "曾", "given": "国藩", "name_pinyin": "zeng guo fan", "surname_pinyin": "zeng"}, None),
    ("name", "无名氏", {"name_kind": "placeholder", "name_pinyin": None}, None),
    ("name", "", {"name_kind": "empty", "name_raw": None, "name_clean": None}, None),
    ("name", "王秀英", {"name_pinyin": "wang xiu ying|wang xiu yang"}, None),
]


@pytest.mark.parametrize("field, raw, expected, reject", STATION_FIELDS)
def test_station_field(tmp_path: Path, field: str, raw: str, expected: dict, reject: str | None) -> None:
    row, rejects = one_station(tmp_path, **{field: raw})
    for col, want in expected.items():
        assert _nan_eq(row[col], want), (col, row[col], want)
    errors = rejects[rejects["severity"] == "error"]
    if reject is None:
        assert errors.empty, errors.to_dict("records")
    else:
        shown = mask_id_number(raw) if field == "id_number" else raw
        assert errors[["row", "column", "value"]].values.tolist() == [[2, field, shown]]
        assert reject in errors["reason"].iloc[0]
        assert errors["reason_zh"].iloc[0] == reason_text(errors["reason"].iloc[0])
        assert not errors["reason_zh"].iloc[0].startswith("数据有问题")  # a known code, not the fallback
    # A bad value never costs the row its other fields.
    assert row["record_id"] == "S1" and row["station"] == "长春市救助管理站"


# (input field, raw value, expected output columns, reject reason fragment or None)
REPORT_FIELDS = [
    ("aliases", "小红、阿明 二娃", {"alias_clean": "小红|阿明|二娃", "aliases_raw": "小红、阿明 二娃"}, None),
    ("aliases", "秀英;翠花", {"alias_clean": "秀英|翠花", "alias_pinyin": "xiu ying|xiu yang|cui hua"}, None),
    ("aliases", "无名氏", {"alias_clean": None}, None),
    ("birth_date", "1965", {"birth_date": "1965-07-01", "birth_precision": "year"}, None),
    ("birth_date", "1965年3月", {"birth_date": "1965-03-15", "birth_precision": "month"}, None),
    ("birth_date", "1965/3/8", {"birth_date": "1965-03-08", "birth_precision": "day"}, None),
    ("birth_date", "1965-13-01", {"birth_date": None}, "month"),
    ("age_at_missing", "50岁", {"age_at_missing": 50.0}, None),
    ("age_at_missing", "abc", {"age_at_missing": math.nan}, "age"),
    ("missing_date", "2015.03.02", {"missing_date": "2015-03-02", "missing_date_precision": "day"}, None),
    ("missing_place", "河南省周口市商水县", {"missing_codes": "411623", "missing_province": "410000"}, None),
    ("contact_phone", " １３８００００００００ ", {"contact_phone": "13800000000"}, None),
    ("contact_phone", "+86 139-1234-5678", {"contact_phone": "13912345678"}, None),
    ("contact_phone", "(0431)8888 1234转801、13912345678", {"contact_phone": "0431-88881234转801|13912345678"}, None),
    ("contact_phone", "170000", {"contact_phone": None}, "too short"),  # a number cut short
    ("contact_phone", "12345678901", {"contact_phone": None}, "not a mobile"),
    ("contact_phone", "13912345678、170000", {"contact_phone": "13912345678"}, "too short"),  # the good one kept
    ("source", "家属", {"source": "家属"}, None),
    ("id_number", FEMALE_ID, {"id_number": FEMALE_ID, "id_gender": "女", "id_fragments": None}, None),
]


@pytest.mark.parametrize("field, raw, expected, reject", REPORT_FIELDS)
def test_report_field(tmp_path: Path, field: str, raw: str, expected: dict, reject: str | None) -> None:
    row, rejects = one_report(tmp_path, **{field: raw})
    for col, want in expected.items():
        assert _nan_eq(row[col], want), (col, row[col], want)
    errors = rejects[rejects["severity"] == "error"]
    if reject is None:
        assert errors.empty, errors.to_dict("records")
    else:
        assert errors["column"].tolist() == [field]
        assert reject in errors["reason"].iloc[0]
    assert row["report_id"] == "R1" and row["name_clean"] == "测试甲"


def test_phone_rejects_show_the_bad_number(tmp_path: Path) -> None:
    rows = [REPORT_EN] + [
        [{"report_id": f"R{i}", "name": "测试甲", "missing_date": "2015-03-02", "contact_phone": phone}.get(c, "") for c in REPORT_EN]
        for i, phone in enumerate(["13912345678、170000", "170000", "13912345678、170000", "1390000"])
    ]
    df, rejects, _ = ingest_one(write_csv(tmp_path / "r.csv", rows), "reports")
    assert df["contact_phone"].tolist() == ["13912345678", None, "13912345678", None]
    assert rejects[["row", "column", "value", "reason_zh"]].values.tolist() == [
        [2, "contact_phone", "170000", "电话号码位数不够（可能被截断）"],
        [3, "contact_phone", "170000", "电话号码位数不够（可能被截断）"],
        [4, "contact_phone", "170000", "电话号码位数不够（可能被截断）"],
        [5, "contact_phone", "1390000", "电话号码位数不够（可能被截断）"],
    ]


# Cross-field checks: (fields, warned column or None, reason fragment)
REPORT_WARNINGS = [
    ({"id_number": MALE_ID, "gender": "女"}, "gender", "gender"),
    ({"id_number": MALE_ID, "gender": "男"}, None, ""),
    ({"id_number": MALE_ID, "birth_date": "1963"}, None, ""),
    ({"id_number": MALE_ID, "birth_date": "1963年3月"}, None, ""),
    ({"id_number": MALE_ID, "birth_date": "1963-03-15"}, None, ""),
    ({"id_number": MALE_ID, "birth_date": "1964"}, "birth_date", "ID"),
    ({"id_number": MALE_ID, "birth_date": "1963年4月"}, "birth_date", "ID"),
    ({"id_number": MALE_ID, "birth_date": "1963-03-16"}, "birth_date", "ID"),
    ({"birth_date": "1965-07-01", "age_at_missing": "49"}, None, ""),
    ({"birth_date": "1965-07-01", "age_at_missing": "20"}, "age_at_missing", "disagrees"),
    ({"id_number": MALE_ID, "age_at_missing": "51"}, None, ""),
    ({"birth_date": "2020-01-01"}, "missing_date", "before"),
    ({"missing_date": ""}, "missing_date", "required"),
    ({"name": ""}, "name", "required"),
    ({"name": "不详"}, None, ""),  # an explicit unknown is not an empty cell
]


@pytest.mark.parametrize("fields, column, reason", REPORT_WARNINGS)
def test_report_cross_field_warnings(tmp_path: Path, fields: dict, column: str | None, reason: str) -> None:
    row, rejects = one_report(tmp_path, **fields)
    warnings = rejects[rejects["severity"] == "warning"]
    if column is None:
        assert warnings.empty, warnings.to_dict("records")
    else:
        assert warnings["column"].tolist() == [column]
        assert reason in warnings["reason"].iloc[0]
        # both values are kept
        if column == "gender":
            assert (row["gender"], row["id_gender"]) == ("女", "男")
        if column == "birth_date":
            assert row["birth_date"] is not pd.NaT and row["id_birth"].year == 1963


STATION_WARNINGS = [
    ({"id_number": MALE_ID, "gender": "女"}, "gender"),
    ({"id_number": MALE_ID, "estimated_age": "约60岁"}, None),  # 60 in 2023
    ({"id_number": MALE_ID, "estimated_age": "20岁左右"}, "estimated_age"),
    ({"id_number": MALE_ID, "estimated_age": "不详"}, None),
    ({"found_date": ""}, "found_date"),
]


@pytest.mark.parametrize("fields, column", STATION_WARNINGS)
def test_station_cross_field_warnings(tmp_path: Path, fields: dict, column: str | None) -> None:
    fields = {"gender": "男"} | fields
    _, rejects = one_station(tmp_path, **fields)
    warnings = rejects[rejects["severity"] == "warning"]
    assert warnings["column"].tolist() == ([] if column is None else [column])


def test_output_columns_and_dtypes(tmp_path: Path) -> None:
    s = write_csv(tmp_path / "s.csv", [STATION_HEADER_ZH, station_row("S1", id_number=MALE_ID), station_row("S2", found="bad")])
    r = write_csv(tmp_path / "r.csv", [REPORT_HEADER_ZH, ["R1", "家属", "测试甲", "小红", "女", "1965", "50", FEMALE_ID, "2015-03-02", "", "", "", "", "13800000000"]])
    result = ingest_files(s, r)
    assert tuple(result.stations.columns) == STATION_OUTPUT
    assert tuple(result.reports.columns) == REPORT_OUTPUT
    for df in (result.stations, result.reports):
        for col in {"found_date", "missing_date", "birth_date", "id_birth"} & set(df.columns):
            assert str(df[col].dtype) == "datetime64[ns]", col
        assert str(df["height_cm"].dtype) == "float64"
        assert str(df["source_row"].dtype) == "int64"
    assert list(result.rejects.columns) == ["file", "row", "column", "value", "reason", "reason_zh", "severity"]
    assert set(result.counts) == {"s.csv", "r.csv"}
    assert isinstance(result.counts["s.csv"], FileCounts)


def test_values_repeat_are_rejected_per_row(tmp_path: Path) -> None:
    """The normalizer runs per distinct value, but every row gets its own rejects line."""
    rows = [STATION_HEADER_ZH] + [station_row(f"S{i}", height_cm="999" if i % 2 else "165") for i in range(10)]
    df, rejects, counts = ingest_one(write_csv(tmp_path / "s.csv", rows), "stations")
    assert rejects["row"].tolist() == [3, 5, 7, 9, 11]
    assert counts.values_rejected == 5
    assert df["height_cm"].isna().sum() == 5


def test_normalizer_crash_becomes_a_reject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xunqin.normalizers.heights as heights

    def boom(raw):
        if raw == "165":
            raise KeyError("secret personal value")
        return None

    monkeypatch.setattr(heights, "parse_height", boom)
    df, rejects, _ = ingest_one(write_csv(tmp_path / "s.csv", [STATION_HEADER_ZH, station_row("S1")]), "stations")
    assert rejects["reason"].tolist() == ["could not be read (KeyError)"]
    assert "secret" not in rejects.to_csv()
    assert len(df) == 1


def test_kind_mismatch_is_a_programming_error(tmp_path: Path) -> None:
    raw = read_table(write_csv(tmp_path / "s.csv", [STATION_HEADER_ZH, station_row()]), "stations")
    with pytest.raises(ValueError):
        normalize_reports(raw)
    normalize_stations(raw)


def test_write_result(tmp_path: Path) -> None:
    s = write_csv(tmp_path / "s.csv", [STATION_HEADER_ZH, station_row("S1", name="=HYPERLINK(\"http://x\")", height_cm="-5"), station_row("S1")])
    result = ingest_files(s, None)
    written = write_result(result, tmp_path / "out" / "nested")
    assert set(written) == {"stations", "rejects", "summary"}
    back = pd.read_parquet(written["stations"])
    assert back.shape == result.stations.shape and back["found_date"].dtype == "datetime64[ns]"
    raw = written["rejects"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to see UTF-8
    rej = pd.read_csv(written["rejects"], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert rej.columns.tolist() == ["file", "row", "column", "value", "reason", "原因", "severity"]
    # Values a spreadsheet would run as formulas are defused.
    assert "'-5" in rej["value"].tolist()
    assert not any(v.startswith(("=", "+", "-", "@")) for v in rej["value"])
    summary = json.loads(written["summary"].read_text(encoding="utf-8"))
    (f,) = summary["files"]
    assert (f["rows_in"], f["rows_out"], f["rows_refused"]) == (2, 1, 1)
    assert summary["rejects"]["refused"] == 1


def test_empty_result_writes_empty_rejects(tmp_path: Path) -> None:
    result = ingest_files(None, write_csv(tmp_path / "r.csv", [REPORT_HEADER_ZH]))
    assert isinstance(result, IngestResult) and result.stations is None and len(result.reports) == 0
    written = write_result(result, tmp_path / "o")
    assert "stations" not in written
    assert pd.read_parquet(written["reports"]).columns.tolist() == list(REPORT_OUTPUT)
    assert written["rejects"].read_text(encoding="utf-8-sig").strip() == "file,row,column,value,reason,原因,severity"


def test_ingest_files_needs_a_file() -> None:
    with pytest.raises(ValueError):
        ingest_files(None, None)


# ------------------------------------------------------------------ schema


@pytest.mark.parametrize(
    "kind, header, expected",
    [
        ("stations", "编号", "record_id"),
        ("stations", "record_id", "record_id"),
        ("stations", " Record ID ".replace(" ", "_").strip("_"), "record_id"),
        ("stations", "RECORD-ID", "record_id"),
        ("stations", "序号", None),
        ("stations", "受助日期", "found_date"),
        ("stations", "救助日期*", "found_date"),
        ("stations", "救 助 日 期", "found_date"),
        ("stations", "\ufeff编号", "record_id"),
        ("stations", "年龄", "estimated_age"),
        ("stations", "身份证号码", "id_number"),
        ("stations", "身高（cm）", "height_cm"),
        ("stations", "姓名：", "name"),
        ("stations", "联系电话", None),
        ("reports", "编号", "report_id"),
        ("reports", "曾用名/小名", "aliases"),
        ("reports", "小名", "aliases"),
        ("reports", "电话", "contact_phone"),
        ("reports", "户籍地址", "hometown"),
        ("reports", "出生年月", "birth_date"),
        ("reports", "救助站", None),
        ("reports", "ｎａｍｅ", "name"),
    ],
)
def test_header_mapping(kind: str, header: str, expected: str | None) -> None:
    assert header_map(kind).get(normalize_header(header)) == expected


@pytest.mark.parametrize("kind", ["stations", "reports"])
def test_schema_has_no_conflicting_headers(kind: str) -> None:
    seen: dict[str, str] = {}
    for col in columns(kind):
        for h in col.headers():
            assert seen.setdefault(h, col.name) == col.name, h
    assert "序号" not in seen


def test_schema_required_columns() -> None:
    assert [c.name for c in STATION_COLUMNS if c.required] == ["record_id", "station", "found_date"]
    assert [c.name for c in REPORT_COLUMNS if c.required] == ["report_id", "name", "missing_date"]
    with pytest.raises(ValueError):
        columns("people")  # type: ignore[arg-type]


MISSING_FROM_A_GETTER = [float("nan"), pd.NaT, pd.NA, None]


@pytest.mark.parametrize("missing", MISSING_FROM_A_GETTER, ids=["nan", "nat", "na", "none"])
def test_a_getters_missing_value_becomes_none_in_each_row(missing):
    # the table is built without looking at every cell again: the helpers give None themselves
    from xunqin.ingest.tables import _Mapped

    cells = pd.Series(["甲", None, "乙", "甲", float("nan"), ""], dtype=object)
    seen: list[str] = []

    def parse(text: str) -> str:
        seen.append(text)
        return text

    mapped = _Mapped(cells, parse)
    got = mapped.get(lambda text: missing if text in ("甲", "") else text)
    assert [type(v).__name__ for v in got] == ["NoneType", "NoneType", "str", "NoneType", "NoneType", "NoneType"]
    assert got[2] == "乙"
    first, second = mapped.columns(lambda text: (text, missing), 2)
    assert first.tolist() == ["甲", "", "乙", "甲", "", ""] and all(v is None for v in second)
    assert set(seen) == {"甲", "乙", ""} and seen.count("甲") == seen.count("乙") == 1  # once per distinct text


@pytest.mark.parametrize("refused_row", [False, True], ids=["every row kept", "a row refused"])
def test_each_column_holds_its_own_values(tmp_path: Path, refused_row: bool) -> None:
    # the frame is built without copying (copy=False): a change to one column must not show in
    # another, nor in the arrays the columns were made from
    rows = [station_row(f"S{k}", name="王秀英", hometown="河南周口") for k in range(3)]
    if refused_row:
        rows.append(station_row("", name="李四"))
    path = write_csv(tmp_path / "s.csv", [STATION_HEADER_EN, *rows])
    df, _, counts = ingest_one(path, "stations")
    assert counts.rows_out == 3 and counts.rows_refused == int(refused_row)
    arrays = {c: df[c].to_numpy() for c in df.columns}
    for a, first in arrays.items():
        for b, second in arrays.items():
            if a < b and first.dtype == object and second.dtype == object:
                assert not np.shares_memory(first, second), (a, b)
    before = df["name_raw"].tolist()
    df.loc[0, "name_clean"] = "改"
    assert df["name_raw"].tolist() == before and df.loc[1, "name_clean"] == "王秀英"


@pytest.mark.parametrize("keep", [[True, True], [True, False]], ids=["every row kept", "a row refused"])
def test_one_array_given_for_two_columns_becomes_two(keep: list[bool]) -> None:
    from xunqin.ingest.tables import _finish

    shared = np.array(["甲", "乙"], dtype=object)
    df = _finish(None, {"name_raw": shared, "notes": shared, "height_cm": np.array([1.0, 2.0])},
                 ("name_raw", "notes", "height_cm"), np.array(keep))
    df.loc[0, "name_raw"] = "改"
    assert df.loc[0, "notes"] == "甲"
    assert not np.shares_memory(df["name_raw"].to_numpy(), df["notes"].to_numpy())


def test_ingesting_files_leaves_no_value_cached(tmp_path: Path) -> None:
    from xunqin.normalizers import names, places

    path = write_csv(tmp_path / "s.csv", [STATION_HEADER_EN, station_row("S1", name="李秀兰", hometown="四川南充")])
    result = ingest_files(path, None)
    assert result.stations["name_clean"].tolist() == ["李秀兰"]
    assert result.stations["hometown_level"].tolist() == ["prefecture"]
    assert names.parse_name.cache_info().currsize == 0 and places._parse_place.cache_info().currsize == 0


def test_rows_refused_for_their_key_in_row_order(tmp_path: Path) -> None:
    ids = ["S1", "S2", "", "S1", "S1", "  ", "S3", "S2"]
    text = "\n".join(",".join(map(str, row)) for row in [STATION_HEADER_EN, *(station_row(k) for k in ids)])
    path = tmp_path / "s.csv"
    path.write_text(text[:-3], encoding="utf-8")  # the last row (S2 again) cut short, no line break
    df, rejects, counts = ingest_one(path, "stations")
    assert df["record_id"].tolist() == ["S1", "S2", "S3"]
    refused = rejects[rejects["severity"] == "refused"]
    assert refused["row"].tolist() == [4, 5, 6, 7, 9]
    reasons = refused["reason"].tolist()
    assert reasons[0] == reasons[3] == "empty record_id: row refused"
    assert reasons[1] == reasons[2] == "duplicate record_id (first at row 2): row refused"
    assert reasons[4].startswith("row truncated")  # refused as cut, not as a repeat of S2
    assert counts.rows_refused == 5 and counts.rows_out == 3
