"""Tests for xunqin.normalizers.phonetic: dialect folding of pinyin."""

import pytest

from xunqin.normalizers.phonetic import fold_key, fold_syllable
from xunqin.normalizers.pinyin import name_pinyin, surname_pinyin


@pytest.mark.parametrize(
    ("syllable", "expected"),
    [
        ("", ""),
        (None, ""),
        ("  ", ""),
        ("liu", "liu"),
        ("niu", "liu"),  # n -> l
        ("nv", "lv"),
        ("lü", "lv"),  # ü spelled v
        ("nu:", "lv"),
        ("zhang", "zan"),  # zh -> z, ang -> an
        ("zang", "zan"),
        ("chen", "cen"),
        ("shi", "si"),
        ("rong", "long"),  # r -> l; ong kept
        ("ren", "len"),
        ("ying", "yin"),  # y is not folded
        ("hu", "fu"),
        ("hua", "fa"),
        ("huai", "fai"),
        ("huan", "fan"),
        ("huang", "fan"),
        ("hui", "fei"),
        ("hun", "fen"),
        ("huo", "fo"),
        ("hong", "hong"),  # plain h + non-u is kept
        ("he", "he"),
        ("feng", "fen"),
        ("ling", "lin"),
        ("ning", "lin"),
        ("xiang", "xian"),  # iang -> ian
        ("guang", "guan"),  # uang -> uan
        ("zhuang", "zuan"),
        ("wang", "wan"),
        ("n", "n"),  # 嗯: bare n is not turned into l
        ("r", "r"),
        ("ZHANG", "zan"),
        (" wang ", "wan"),
    ],
)
def test_fold_syllable(syllable, expected):
    assert fold_syllable(syllable) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", ""),
        (None, ""),
        ("zeng guo fan", "zen guo fan"),
        ("liu de hua", "liu de fa"),
        ("niu  de   hua", "liu de fa"),
        ("huang xiu ying", "fan xiu yin"),
        ("ou yang na na", "ou yan la la"),
    ],
)
def test_fold_key(key, expected):
    assert fold_key(key) == expected


def _folded_surname(s: str) -> str:
    return fold_key(surname_pinyin(s)[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("刘", "牛"),  # n/l
        ("福", "胡"),  # f/hu
        ("黄", "方"),  # huang -> fang
        ("张", "臧"),  # zh/z
        ("陈", "岑"),  # ch/c
        ("沈", "森"),  # sh/s, en
        ("王", "万"),  # ang/an
        ("林", "凌"),  # in/ing
        ("荣", "龙"),  # r/l
        ("黎", "李"),  # homophones already equal
        ("冯", "分"),  # eng/en
        ("惠", "费"),  # hui -> fei
        ("曾", "曾"),  # reading from the surname table, same both sides
    ],
)
def test_confusable_surnames_fold_together(a, b):
    assert _folded_surname(a) == _folded_surname(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("王", "李"),
        ("张", "刘"),
        ("陈", "林"),
        ("黄", "王"),
        ("赵", "周"),
        ("杨", "王"),
        ("孙", "宋"),
        ("荣", "杨"),  # r is not folded into y
        ("洪", "冯"),  # hong vs feng: only hu- folds
    ],
)
def test_different_surnames_stay_apart(a, b):
    assert _folded_surname(a) != _folded_surname(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("刘", "德华"), ("牛", "德发")),
        (("黄", "秀英"), ("方", "秀音")),
        (("张", "建国"), ("臧", "建国")),
        (("陈", "红"), ("岑", "洪")),
        (("林", "晓明"), ("凌", "小明")),
    ],
)
def test_full_names_heard_through_accent_meet(a, b):
    assert fold_key(name_pinyin(*a)[0]) == fold_key(name_pinyin(*b)[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("王", "秀英"), ("李", "秀英")),
        (("张", "伟"), ("张", "强")),
        (("刘", "德华"), ("刘", "德明")),
    ],
)
def test_different_full_names_stay_apart(a, b):
    assert fold_key(name_pinyin(*a)[0]) != fold_key(name_pinyin(*b)[0])
