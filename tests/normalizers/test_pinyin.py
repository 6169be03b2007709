"""Tests for xunqin.normalizers.pinyin: surname-aware pinyin keys."""

import csv
import re
from importlib.resources import files

import pytest

from xunqin.normalizers.pinyin import (
    MAX_COMBINATIONS,
    given_pinyin,
    name_pinyin,
    surname_pinyin,
    surname_readings,
)

KEY_RE = re.compile(r"^[a-z]+( [a-z]+)*$")


def _csv_rows() -> list[dict[str, str]]:
    with (files("xunqin.data") / "surname_readings.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_table_has_enough_rows_and_valid_keys():
    rows = _csv_rows()
    assert len(rows) >= 40
    for row in rows:
        assert row["surname"] and row["note"], row
        key = " ".join(row["pinyin"].split())
        assert KEY_RE.match(key), row
        assert len(key.split()) == len(row["surname"]), row  # one syllable per character


@pytest.mark.parametrize("row", _csv_rows(), ids=lambda r: f"{r['surname']}-{r['pinyin']}")
def test_every_table_reading_is_returned(row):
    got = surname_pinyin(row["surname"])
    assert " ".join(row["pinyin"].split()) in got


@pytest.mark.parametrize(
    ("surname", "expected"),
    [
        ("单", ("shan",)),  # pypinyin alone: dan
        ("曾", ("zeng",)),  # ceng
        ("解", ("xie",)),
        ("仇", ("qiu",)),
        ("区", ("ou",)),
        ("朴", ("piao",)),
        ("查", ("zha",)),
        ("覃", ("qin", "tan")),
        ("盖", ("ge", "gai")),
        ("乐", ("yue", "le")),
        ("翟", ("zhai", "di")),
        ("缪", ("miao",)),
        ("尉迟", ("yu chi",)),
        ("万俟", ("mo qi",)),
        ("长孙", ("zhang sun",)),
        ("尉", ("wei",)),
        ("黑", ("hei", "he")),
        ("单于", ("chan yu",)),
        ("欧阳", ("ou yang",)),  # not in the table: pypinyin's phrase table
        ("司马", ("si ma",)),
        ("诸葛", ("zhu ge",)),
        ("上官", ("shang guan",)),
        ("皇甫", ("huang fu",)),
        ("令狐", ("ling hu",)),
        ("慕容", ("mu rong",)),
        ("夏侯", ("xia hou",)),
        ("宇文", ("yu wen",)),
        ("司徒", ("si tu",)),
        ("公孙", ("gong sun",)),
        ("端木", ("duan mu",)),
        ("澹台", ("tan tai",)),
        ("呼延", ("hu yan",)),
        ("王", ("wang",)),
        ("吕", ("lv",)),  # ü written v
        ("石", ("shi",)),  # the measure reading dan is not offered
        ("單", ("shan",)),  # traditional input
        (" 曾 ", ("zeng",)),
        ("", ()),
        (None, ()),
        ("abc", ()),
        ("？", ()),
    ],
)
def test_surname_pinyin(surname, expected):
    assert surname_pinyin(surname) == expected


@pytest.mark.parametrize(
    ("given", "first", "also"),
    [
        ("国藩", "guo fan", ()),
        ("秀英", "xiu ying", ()),
        ("德华", "de hua", ()),
        ("长乐", "chang le", ("zhang le", "chang yue")),
        ("乐", "le", ("yue",)),
        ("朝阳", "zhao yang", ("chao yang",)),
        ("女", "nv", ()),
        ("绿", "lv", ("lu",)),
        ("娜娜", "na na", ()),
        ("建国1", "jian guo", ()),  # digits dropped
        ("Mary红", "hong", ()),
        ("秀　英", "xiu ying", ()),
        ("乾", "qian", ()),
        ("𠮷", None, ()),  # no reading known: no key
    ],
)
def test_given_pinyin(given, first, also):
    keys = given_pinyin(given)
    if first is None:
        assert keys == ()
        return
    assert keys[0] == first
    for k in also:
        assert k in keys
    assert len(keys) == len(set(keys))
    assert all(KEY_RE.match(k) for k in keys)


@pytest.mark.parametrize("given", ["和和和和", "重行长乐", "行" * 20, "朝乐和行重"])
def test_given_pinyin_is_capped(given):
    keys = given_pinyin(given)
    assert 1 <= len(keys) <= MAX_COMBINATIONS


@pytest.mark.parametrize("given", [None, "", "   ", "123", "😀", "--"])
def test_given_pinyin_empty(given):
    assert given_pinyin(given) == ()


@pytest.mark.parametrize(
    ("surname", "given", "first", "also"),
    [
        ("曾", "国藩", "zeng guo fan", ()),
        ("单", "田芳", "shan tian fang", ()),
        ("刘", "德华", "liu de hua", ()),
        ("欧阳", "娜娜", "ou yang na na", ()),
        ("尉迟", "恭", "yu chi gong", ()),
        ("万俟", "卨", "mo qi xie", ()),
        ("覃", "明", "qin ming", ("tan ming",)),
        ("乐", "长", "yue zhang", ("le zhang", "yue chang")),
        ("吕", "布", "lv bu", ()),
        ("王", "", "wang", ()),
        ("", "秀英", "xiu ying", ()),
        ("朴", "槿惠", "piao jin hui", ()),
    ],
)
def test_name_pinyin(surname, given, first, also):
    keys = name_pinyin(surname, given)
    assert keys[0] == first
    for k in also:
        assert k in keys
    assert len(keys) <= MAX_COMBINATIONS
    assert len(keys) == len(set(keys))


def test_name_pinyin_empty():
    assert name_pinyin("", "") == ()
    assert name_pinyin(None, None) == ()


def test_surname_readings_loader_is_cached_and_ordered():
    table = surname_readings()
    assert table is surname_readings()
    assert table["覃"][0] == "qin"
    assert len(table) >= 40
