"""Reject reasons in Chinese, and ID numbers masked wherever rejects show them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from ingest_helpers import REPORT_HEADER_ZH, STATION_HEADER_ZH, bad_check, make_id, station_row, write_csv

import xunqin.ingest
import xunqin.normalizers
from xunqin.ingest import ingest_files, ingest_one, write_result
from xunqin.ingest.reasons import REASONS, mask_id_number, mask_ids_in_text, reason_text

MALE_ID = make_id("411623", "19630315", "031")
X_ID = next(make_id("110105", "19650701", f"{n:03d}") for n in range(1000) if make_id("110105", "19650701", f"{n:03d}")[-1] == "X")

# (English code as the ingest writes it, Chinese text staff read)
REASON_CASES = [
    ("check digit", "身份证号校验位不对"),
    ("unreadable gender", "性别无法识别"),
    ("unreadable gender code", "性别代码无法识别"),
    ("invalid region code", "身份证号的地区代码不对"),
    ("ID number must have 18 (or 15) characters", "身份证号应为18位（或旧版15位）"),
    ("implausible age (>120)", "年龄不合理（超过120岁）"),
    ("unreadable date", "日期无法识别"),
    ("year outside 1880..2100", "年份不在1880到2100之间"),
    ("invalid day for month", "这个月没有这一天"),
    ("implausible height (outside 40..230 cm)", "身高不合理（不在40到230厘米之间）"),
    ("longer than 2000 characters: clipped", "超过2000字，已截断"),
    ("Excel error value", "Excel错误值（如#N/A）"),
    ("gender differs from the ID number's gender (both kept)", "性别与身份证号显示的性别不一致（两者都保留）"),
    # codes with a detail: the column shown by its Chinese header, the row kept, an inner code translated
    ("empty record_id: row refused", "编号为空：整行未收"),
    ("duplicate report_id (first at row 17): row refused", "编号重复（第17行已有）：整行未收"),
    ("record_id unreadable (Excel error value): row refused", "编号无法读取（Excel错误值（如#N/A））：整行未收"),
    ("record_id unreadable (longer than 2000 characters): row refused", "编号无法读取（超过2000字，未收）：整行未收"),
    ("required value empty (found_date)", "必填项为空（救助日期）"),
    ("required value empty (missing_date)", "必填项为空（走失日期）"),
    ("could not be read (KeyError)", "无法读取（程序错误 KeyError，请报告技术人员）"),
    # an unknown code: a generic text that still carries the code
    ("frobnicated value", "数据有问题（frobnicated value）"),
    ("", "数据有问题（）"),
]


@pytest.mark.parametrize("code, chinese", REASON_CASES)
def test_reason_text(code: str, chinese: str) -> None:
    assert reason_text(code) == chinese


def test_table_is_chinese() -> None:
    for code, text in REASONS.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text), code
        assert text != code


# Functions taking a reason, and its position: CellProblem(row, column, value, reason), _warn(..., reason).
REASON_ARG = {"CellProblem": 3, "_warn": 5}


def _messages(root: Path) -> set[str]:
    """Literal reasons in the source: ValueError("..."), ``return None, "..."`` (cached parsers),
    and reasons given to CellProblem / _warn / rejects rows."""
    found: set[str] = set()
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name) and func.id == "ValueError" and node.exc.args:
                    arg = node.exc.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
                    elif isinstance(arg, ast.Name) and arg.id in constants:  # raise ValueError(TOO_SHORT)
                        found.add(constants[arg.id])
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 2:
                first, second = node.value.elts
                if isinstance(first, ast.Constant) and first.value is None and isinstance(second, ast.Constant) and isinstance(second.value, str):
                    found.add(second.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REASON_ARG:
                position = REASON_ARG[node.func.id]
                arg = node.args[position] if len(node.args) > position else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


# ValueErrors that describe the program, never a cell (configuration files, call mistakes).
NOT_CELL_REASONS = {"give a stations file, a reports file, or both", "normalize_stations needs a stations table",
                    "normalize_reports needs a reports table", "partial results need the parsed values",
                    "only mappings without results are joined"}


@pytest.mark.parametrize("package", [xunqin.normalizers, xunqin.ingest])
def test_every_reason_in_the_source_has_a_chinese_text(package) -> None:
    messages = _messages(Path(package.__file__).parent) - NOT_CELL_REASONS
    assert len(messages) >= (6 if package is xunqin.ingest else 40)  # the scan does find them
    missing = sorted(m for m in messages if reason_text(m).startswith("数据有问题"))
    assert not missing


# (value, masked): first 6 and last 4 kept; shorter values keep at most a quarter at each end
MASK_CASES = [
    (MALE_ID, MALE_ID[:6] + "********" + MALE_ID[-4:]),
    (X_ID, X_ID[:6] + "********" + X_ID[-4:]),
    ("411623630315031", "411623*****5031"),  # old 15-digit form
    (" 411623196303150316 ", "411623********0316"),
    ("4116231963031503161234", "411623************1234"),  # too long: still 6 + 4
    ("41162319630315", "411********315"),  # 14 characters
    ("12345", "1***5"),
    ("1234", "1**4"),
    ("123", "***"),
    ("1", "*"),
    ("", ""),
    (None, ""),
]


@pytest.mark.parametrize("value, masked", MASK_CASES)
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked
    if value and len(value.strip()) < 15:  # a short value: at least half of it hidden
        assert masked.count("*") >= len(value.strip()) / 2


MASK_TEXT_CASES = [
    (f"身份证{MALE_ID}", f"身份证{mask_id_number(MALE_ID)}"),
    (f"{MALE_ID}，{X_ID.lower()}", f"{mask_id_number(MALE_ID)}，{mask_id_number(X_ID.lower())}"),
    ("13912345678", "13912345678"),  # a phone number is not an ID number
    ("订单号1234567890123456789", "订单号1234567890123456789"),  # 19 digits: not ID-shaped
    ("男", "男"),
]


@pytest.mark.parametrize("text, masked", MASK_TEXT_CASES)
def test_mask_ids_in_text(text: str, masked: str) -> None:
    assert mask_ids_in_text(text) == masked


def test_rejects_carry_chinese_reasons_and_masked_ids(tmp_path: Path) -> None:
    rows = [
        STATION_HEADER_ZH,
        station_row("S1", id_number=bad_check(MALE_ID)),
        station_row("S2", id_number="41162319630315"),
        station_row("S3", gender=MALE_ID),  # an ID number typed into the wrong column
        station_row("S4", gender="xyz", estimated_age="300岁", height_cm="999", found="2023-02-30"),
        station_row("S4"),
        station_row(""),
    ]
    df, rejects, _ = ingest_one(write_csv(tmp_path / "s.csv", rows), "stations")
    assert list(rejects.columns) == ["file", "row", "column", "value", "reason", "reason_zh", "severity"]
    by_row = {(r.row, r.column): r for r in rejects.itertuples()}
    assert by_row[(2, "id_number")].value == mask_id_number(bad_check(MALE_ID))
    assert by_row[(2, "id_number")].reason_zh == "身份证号校验位不对"
    assert by_row[(3, "id_number")].value == "411********315"
    assert by_row[(4, "gender")].value == mask_id_number(MALE_ID)
    assert by_row[(5, "gender")].reason_zh == "性别无法识别"
    assert by_row[(6, "record_id")].reason_zh == "编号重复（第5行已有）：整行未收"
    assert by_row[(7, "record_id")].reason_zh == "编号为空：整行未收"
    for r in rejects.itertuples():
        assert r.reason_zh == reason_text(r.reason) and not r.reason_zh.startswith("数据有问题"), r.reason
        assert MALE_ID not in r.value and bad_check(MALE_ID) not in r.value


def test_rejects_csv_has_the_chinese_column_and_no_full_id(tmp_path: Path) -> None:
    s = write_csv(tmp_path / "s.csv", [STATION_HEADER_ZH, station_row("S1", id_number=bad_check(MALE_ID), notes=f"身份证{MALE_ID}" * 700)])
    r = write_csv(tmp_path / "r.csv", [REPORT_HEADER_ZH, ["R1", "家属", "测试丁", "", "女", "1965", "50", bad_check(X_ID), "2015-03-02", "", "", "", "", ""]])
    written = write_result(ingest_files(s, r), tmp_path / "out")
    text = written["rejects"].read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "file,row,column,value,reason,原因,severity"
    assert "身份证号校验位不对" in text and "超过2000字，已截断" in text
    for full in (MALE_ID, bad_check(MALE_ID), bad_check(X_ID)):
        assert full not in text

