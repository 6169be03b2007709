"""Tests for xunqin.normalizers.names: parse_name and split_aliases."""

import csv
import dataclasses
import random
import time
from importlib.resources import files

import pytest

from xunqin.normalizers.names import KINDS, ParsedName, known_surnames, parse_name, split_aliases
from xunqin.normalizers.phonetic import fold_key

# (raw, kind, surname, given, core, first pinyin key or None)
PARSE_ROWS = [
    # full names
    ("王秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("曾国藩", "full", "曾", "国藩", "国藩", "zeng guo fan"),
    ("单田芳", "full", "单", "田芳", "田芳", "shan tian fang"),
    ("劉德華", "full", "刘", "德华", "德华", "liu de hua"),  # traditional
    ("王　秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),  # full-width space inside
    ("王 秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("欧阳娜娜", "full", "欧阳", "娜娜", "娜", "ou yang na na"),
    ("尉迟恭", "full", "尉迟", "恭", "恭", "yu chi gong"),
    ("长孙无忌", "full", "长孙", "无忌", "无忌", "zhang sun wu ji"),
    ("萧峰", "full", "肖", "峰", "峰", "xiao feng"),  # registry variant 萧 -> 肖
    ("阎锡山", "full", "闫", "锡山", "锡山", "yan xi shan"),
    ("李萧", "full", "李", "萧", "萧", "li xiao"),  # surname-scope variant: given kept
    ("张喆", "full", "张", "哲", "哲", "zhang zhe"),  # any-scope variant
    ("李乾", "full", "李", "乾", "乾", "li qian"),  # 乾 not turned into 干
    ("党华", "full", "党", "华", "华", "dang hua"),  # station-given name: ordinary
    ("金花", "full", "金", "花", "花", "jin hua"),  # 金 is a top-100 surname
    ("王小红", "full", "王", "小红", "红", "wang xiao hong"),
    ("王红红", "full", "王", "红红", "红", "wang hong hong"),
    ("王二娃", "full", "王", "二娃", "二娃", "wang er wa"),
    ("王明娃", "full", "王", "明娃", "明", "wang ming wa"),
    ("乐正华", "full", "乐", "正华", "正华", "yue zheng hua"),  # weak compound 乐正
    ("疑似李红", "full", "李", "红", "红", "li hong"),
    ("李秀英待核实", "full", "李", "秀英", "秀英", "li xiu ying"),
    ("自称王明", "full", "王", "明", "明", "wang ming"),
    ("王明(自称)", "full", "王", "明", "明", "wang ming"),
    ("王明（河南口音", "full", "王", "明", "明", "wang ming"),  # unclosed bracket
    ("王明?", "full", "王", "明", "明", "wang ming"),
    ("王明、小明", "full", "王", "明", "明", "wang ming"),  # first of several
    ("王明 小明", "full", "王", "明", "明", "wang ming"),
    ("王秀英2023-015", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("李秀英2", "full", "李", "秀英", "秀英", "li xiu ying"),
    ("Ｍ王秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("😀王秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("买买提·艾力", "full", "", "买买提艾力", "买买提艾力", "mai mai ti ai li"),
    ("爱新觉罗·溥仪", "full", "爱新觉罗", "溥仪", "溥仪", "ai xin jue luo pu yi"),
    ("王·秀英", "full", "王", "秀英", "秀英", "wang xiu ying"),
    ("扎西顿珠", "full", "", "扎西顿珠", "扎西顿珠", "zha xi dun zhu"),
    ("禤国明", "full", "禤", "国明", "国明", None),  # rare surname, still split
    # surname only
    ("王", "surname_only", "王", "", "", "wang"),
    ("王某", "surname_only", "王", "", "", "wang"),
    ("王某某", "surname_only", "王", "", "", "wang"),
    ("王某(自称)", "surname_only", "王", "", "", "wang"),
    ("王1", "surname_only", "王", "", "", "wang"),
    ("萧某", "surname_only", "肖", "", "", "xiao"),
    ("欧阳某", "surname_only", "欧阳", "", "", "ou yang"),
    ("欧阳", "surname_only", "欧阳", "", "", "ou yang"),
    ("王氏", "surname_only", "王", "", "", "wang"),
    ("姓王", "surname_only", "王", "", "", "wang"),
    ("自称姓张", "surname_only", "张", "", "", "zhang"),
    ("王大爷", "surname_only", "王", "", "", "wang"),
    ("李先生", "surname_only", "李", "", "", "li"),
    ("曾某", "surname_only", "曾", "", "", "zeng"),
    # given name only
    ("红", "given_only", "", "红", "红", "hong"),
    ("明", "given_only", "", "明", "明", "ming"),
    ("秀英", "given_only", "", "秀英", "秀英", "xiu ying"),
    ("建国", "given_only", "", "建国", "建国", "jian guo"),
    ("国庆", "given_only", "", "国庆", "国庆", "guo qing"),
    ("红梅", "given_only", "", "红梅", "红梅", "hong mei"),
    ("海燕", "given_only", "", "海燕", "海燕", "hai yan"),
    ("大伟", "given_only", "", "大伟", "大伟", "da wei"),
    # nicknames
    ("小红", "nickname", "", "", "红", None),
    ("阿明", "nickname", "", "", "明", None),
    ("红红", "nickname", "", "", "红", None),
    ("小红红", "nickname", "", "", "红", None),
    ("明娃", "nickname", "", "", "明", None),
    ("亮仔", "nickname", "", "", "亮", None),
    ("红妹", "nickname", "", "", "红", None),
    ("红丫头", "nickname", "", "", "红", None),
    ("明哥", "nickname", "", "", "明", None),
    ("二娃", "nickname", "", "", "二娃", None),
    ("三妹", "nickname", "", "", "三妹", None),
    ("大丫", "nickname", "", "", "大丫", None),
    ("二娃子", "nickname", "", "", "二娃", None),
    ("老三", "nickname", "", "", "老三", None),
    ("老王", "nickname", "王", "", "", "wang"),
    ("小王", "nickname", "王", "", "", "wang"),
    ("阿陈", "nickname", "陈", "", "", "chen"),
    ("老萧", "nickname", "肖", "", "", "xiao"),
    ("小龙", "nickname", "", "", "龙", None),  # 龙 is mostly a given-name character
    # placeholders
    ("无名氏", "placeholder", "", "", "", None),
    ("无名氏3号", "placeholder", "", "", "", None),
    ("无名男", "placeholder", "", "", "", None),
    ("未知", "placeholder", "", "", "", None),
    ("待查", "placeholder", "", "", "", None),
    ("不详", "placeholder", "", "", "", None),
    ("无", "placeholder", "", "", "", None),
    ("某某", "placeholder", "", "", "", None),
    ("某男", "placeholder", "", "", "", None),
    ("长救23-015", "placeholder", "", "", "", None),
    ("2023-015号", "placeholder", "", "", "", None),
    ("男1号", "placeholder", "", "", "", None),
    ("男1.2号", "placeholder", "", "", "", None),
    ("长救23.015", "placeholder", "", "", "", None),
    ("女 2号", "placeholder", "", "", "", None),
    ("A001", "placeholder", "", "", "", None),
    ("Wang Xiuying", "placeholder", "", "", "", None),
    ("哑巴", "placeholder", "", "", "", None),
    ("老人", "placeholder", "", "", "", None),
    ("小女孩", "placeholder", "", "", "", None),
    ("王" * 200, "placeholder", "", "", "", None),  # clipped, then far too long for a name
    ("x" * 200, "placeholder", "", "", "", None),
    # empty
    (None, "empty", "", "", "", None),
    ("", "empty", "", "", "", None),
    ("   ", "empty", "", "", "", None),
    ("\u3000", "empty", "", "", "", None),
    ("N/A", "empty", "", "", "", None),
    ("Ｎ／Ａ", "empty", "", "", "", None),
    ("nan", "empty", "", "", "", None),
    ("-", "empty", "", "", "", None),
    ("--", "empty", "", "", "", None),
    ("？？", "empty", "", "", "", None),
    ("😀", "empty", "", "", "", None),
    (float("nan"), "empty", "", "", "", None),
]


@pytest.mark.parametrize(("raw", "kind", "surname", "given", "core", "key"), PARSE_ROWS)
def test_parse_name(raw, kind, surname, given, core, key):
    p = parse_name(raw)
    assert isinstance(p, ParsedName)
    assert (p.kind, p.surname, p.given, p.core) == (kind, surname, given, core)
    if key is not None:
        assert p.pinyin[0] == key
    if kind in ("placeholder", "empty"):
        assert p.pinyin == p.folded == p.core_pinyin == ()
    if kind == "empty":
        assert p.clean == ""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("劉德華", "刘德华"),
        ("王　秀英", "王秀英"),
        ("萧峰", "肖峰"),
        ("李萧", "李萧"),
        ("王某(自称)", "王某"),
        ("萧某", "肖某"),
        ("买买提 · 艾力", "买买提·艾力"),
        ("王·秀英", "王秀英"),
        ("爱新觉罗·溥仪", "爱新觉罗·溥仪"),
        ("张喆", "张哲"),
        ("堃", "坤"),
    ],
)
def test_clean_form(raw, clean):
    assert parse_name(raw).clean == clean


@pytest.mark.parametrize(
    ("raw", "field", "expected"),
    [
        ("曾国藩", "surname_pinyin", ("zeng",)),
        ("曾国藩", "given_pinyin", ("guo fan",)),
        ("曾国藩", "folded", ("zen guo fan",)),
        ("曾国藩", "given_folded", ("guo fan",)),
        ("黄秀英", "folded", ("fan xiu yin", "fan xiu yan")),
        ("小红", "core_pinyin", ("hong", "gong")),
        ("小红", "pinyin", ()),  # no surname, no registered given name
        ("老王", "surname_pinyin", ("wang",)),
        ("王某", "given_pinyin", ()),
    ],
)
def test_pinyin_fields(raw, field, expected):
    assert getattr(parse_name(raw), field) == expected


@pytest.mark.parametrize(
    ("station", "report"),
    [
        ("牛德华", "刘德华"),  # n/l
        ("黄秀英", "方秀英"),  # h/f
        ("臧建国", "张建国"),  # z/zh
        ("荣海", "龙海"),  # r/l
        ("李秀英", "黎秀英"),  # homophone
        ("劉德華", "刘德华"),  # traditional
        ("萧红", "肖红"),  # registry variant
        ("陈凌", "岑林"),
    ],
)
def test_misheard_names_share_a_folded_key(station, report):
    a, b = parse_name(station), parse_name(report)
    assert set(a.folded) & set(b.folded)


@pytest.mark.parametrize(
    ("a", "b"),
    [("王秀英", "李秀英"), ("张伟", "刘伟"), ("王秀英", "王秀兰"), ("陈明", "周明")],
)
def test_different_names_do_not_share_a_folded_key(a, b):
    assert not set(parse_name(a).folded) & set(parse_name(b).folded)


@pytest.mark.parametrize(
    ("nickname", "registered"),
    [("小红", "李红"), ("阿明", "王明"), ("红红", "张红"), ("明娃", "刘明"), ("小红", "王小红")],
)
def test_nickname_core_meets_registered_given_name(nickname, registered):
    assert parse_name(nickname).core == parse_name(registered).core


def test_parsed_name_is_frozen():
    p = parse_name("王秀英")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kind = "empty"  # type: ignore[misc]


def test_raw_is_kept():
    assert parse_name("  王秀英 ").raw == "  王秀英 "


@pytest.mark.parametrize(
    "raw",
    ["(", ")", "（）", "王(", "自称", "疑似", "某", "姓", "·", "·王", "王·", "0", "号", "\x00",
     "\u200b", "王\u200b秀英", "a" * 10_000, "王某" * 500, "小", "阿", "老", "大"],
)
def test_hostile_input_never_raises(raw):
    p = parse_name(raw)
    assert p.kind in KINDS
    assert len(p.clean) <= 20
    assert all(fold_key(k) in p.folded for k in p.pinyin)


def test_surname_tables_loaded():
    singles, compounds = known_surnames()
    assert len(singles) >= 400
    assert {"王", "李", "单", "曾", "肖", "覃"} <= set(singles)
    assert {"欧阳", "司马", "诸葛", "上官", "尉迟", "万俟", "长孙", "慕容"} <= set(compounds)
    assert list(compounds) == sorted(compounds, key=len, reverse=True)
    with (files("xunqin.data") / "surnames.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sum(r["top100"] == "1" for r in rows) == 100
    assert len({r["surname"] for r in rows}) == len(rows)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ()),
        ("", ()),
        ("   ", ()),
        ("无", ()),
        ("不详", ()),
        ("-", ()),
        ("小红", ("小红",)),
        ("小红、阿红", ("小红", "阿红")),
        ("小红,阿红", ("小红", "阿红")),
        ("小红，阿红；红红", ("小红", "阿红", "红红")),
        ("小红;阿红", ("小红", "阿红")),
        ("小红 阿红", ("小红", "阿红")),
        ("小红　阿红", ("小红", "阿红")),  # full-width space
        ("小红、、阿红", ("小红", "阿红")),
        ("小红、小红", ("小红",)),  # duplicates removed
        ("王秀兰，小名:兰兰", ("王秀兰", "兰兰")),
        ("曾用名：王秀兰 小名：二丫", ("王秀兰", "二丫")),
        ("王秀兰（小名：兰兰）", ("王秀兰", "兰兰")),
        ("王 秀兰", ("王秀兰",)),  # a bare surname joins the next word
        ("欧阳 娜娜", ("欧阳娜娜",)),
        ("王秀兰/王兰", ("王秀兰", "王兰")),
        ("王秀兰;无", ("王秀兰",)),
        ("劉德華、華仔", ("劉德華", "華仔")),  # simplification is left to parse_name
        ("小红,?,阿红", ("小红", "阿红")),
    ],
)
def test_split_aliases(raw, expected):
    assert split_aliases(raw) == expected


def test_split_aliases_long_input_is_bounded():
    got = split_aliases("、".join(f"名{i}" for i in range(1000)))
    assert 0 < len(got) < 200


def test_parse_name_is_fast_on_many_distinct_names():
    rng = random.Random(7)
    singles, _ = known_surnames()
    sur = sorted(singles)
    given = "秀英明华国庆建军红梅丽娟志强伟芳敏静勇杰涛磊洋艳霞平刚桂兰玉凤春花金海燕云"
    names = {
        rng.choice(sur) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
        for _ in range(30_000)
    }
    t0 = time.perf_counter()
    for n in names:
        parse_name(n)
    elapsed = time.perf_counter() - t0
    assert elapsed < 10, f"{len(names)} names took {elapsed:.1f}s"
    # Repeats hit the cache.
    t0 = time.perf_counter()
    for n in names:
        parse_name(n)
    assert time.perf_counter() - t0 < 0.5
