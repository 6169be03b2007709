import datetime as dt

import numpy as np
import pandas as pd
import pytest

from xunqin.normalizers.id_numbers import IdFragment, check_digit, id_fragments, id_tails, parse_id


def _iso7064(first17: str) -> str:
    """Independent reference: the iterative form of ISO 7064 MOD 11-2."""
    p = 0
    for c in first17:
        p = ((p + int(c)) * 2) % 11
    r = (12 - p) % 11
    return "X" if r == 10 else str(r)


def make_id(region: str, birth: str, seq: str) -> str:
    """Made-up but valid 18-character number."""
    first17 = region + birth + seq
    return first17 + check_digit(first17)


def _with_x_check() -> str:
    # find a made-up sequence whose check character is X
    for seq in range(1000):
        first17 = f"41012319700101{seq:03d}"
        if check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no X check found")


ID_M = make_id("110101", "19650312", "123")  # 17th digit 3: male
ID_F = make_id("410123", "19800229", "042")  # 17th digit 2: female, leap day
ID_X = _with_x_check()


@pytest.mark.parametrize(
    "first17",
    ["11010119650312123", "41012319800229042", "44030620001231001", "00000000000000000",
     "99999999999999999", "65010219491001777", "12345678901234567"],
)
def test_check_digit_matches_reference(first17):
    assert check_digit(first17) == _iso7064(first17)


@pytest.mark.parametrize("bad", ["", "1234", "1101011965031212", "110101196503121234", "1101011965031212a",
                                 "１１０１０１１９６５０３１２１２３"])
def test_check_digit_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        check_digit(bad)


@pytest.mark.parametrize(
    "raw, number, region, birth, gender",
    [
        (ID_M, ID_M, "110101", dt.date(1965, 3, 12), "男"),
        (ID_F, ID_F, "410123", dt.date(1980, 2, 29), "女"),
        (f"  {ID_M}  ", ID_M, "110101", dt.date(1965, 3, 12), "男"),
        (f"{ID_M[:6]} {ID_M[6:14]} {ID_M[14:]}", ID_M, "110101", dt.date(1965, 3, 12), "男"),
        (f"{ID_M[:6]}-{ID_M[6:14]}-{ID_M[14:]}", ID_M, "110101", dt.date(1965, 3, 12), "男"),
        ("'" + ID_F, ID_F, "410123", dt.date(1980, 2, 29), "女"),  # Excel text marker
        (ID_F.translate(str.maketrans("0123456789", "０１２３４５６７８９")), ID_F, "410123",
         dt.date(1980, 2, 29), "女"),
        (ID_X, ID_X, "410123", dt.date(1970, 1, 1), None),
        (ID_X.lower(), ID_X, "410123", dt.date(1970, 1, 1), None),
        # 15-digit old format: yymmdd in the 1900s, converted with a computed check digit
        ("110101650312123", ID_M, "110101", dt.date(1965, 3, 12), "男"),
        (110101650312123, ID_M, "110101", dt.date(1965, 3, 12), "男"),
        (np.int64(110101650312123), ID_M, "110101", dt.date(1965, 3, 12), "男"),
    ],
)
def test_parse_id_valid(raw, number, region, birth, gender):
    r = parse_id(raw)
    assert r.number == number
    assert r.region == region
    assert r.birth == birth
    if gender is not None:
        assert r.gender == gender
    assert r.gender == ("男" if int(number[16]) % 2 else "女")


@pytest.mark.parametrize("raw", [None, "", "   ", "不详", "未知", "无", "-", float("nan"), np.nan, pd.NA, "NaN"])
def test_parse_id_missing(raw):
    assert parse_id(raw) is None


def _bad_check(number: str) -> str:
    wrong = "0" if number[17] != "0" else "1"
    return number[:17] + wrong


@pytest.mark.parametrize(
    "raw, reason",
    [
        (_bad_check(ID_M), "check digit"),
        (_bad_check(ID_F), "check digit"),
        (make_id("110101", "19650230", "123"), "birth"),  # Feb 30
        (make_id("110101", "19651301", "123"), "birth"),
        (make_id("110101", "18500101", "123"), "birth"),  # too old
        (make_id("110101", "29990101", "123"), "birth"),  # future
        ("110101651301123", "birth"),  # 15-digit, month 13
        (make_id("990101", "19650312", "123"), "region"),
        (make_id("000000", "19650312", "123"), "region"),
        (ID_M[:17], "18"),
        (ID_M + "1", "18"),
        ("abc", "18"),
        ("1e9", "lost"),  # scientific notation: a number cell
        (ID_M[:10] + "A" + ID_M[11:], "characters"),
        ("X" + ID_M[1:], "characters"),
        ("11010165031212X", "15-digit"),
        ("4.10123E+17", "lost"),
        (4.10123196503121e17, "lost"),  # 18 digits in a float: corrupted
        (ID_M * 5, "long"),
        (True, "boolean"),
    ],
)
def test_parse_id_invalid(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_id(raw)


def test_parse_id_error_and_repr_do_not_leak_number():
    with pytest.raises(ValueError) as exc:
        parse_id(_bad_check(ID_M))
    assert ID_M[6:14] not in str(exc.value)
    r = parse_id(ID_M)
    assert ID_M not in repr(r) and ID_M[6:] not in repr(r) and "1965" not in repr(r)
    assert ID_M not in repr(id_fragments(f"身份证{ID_M}"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("自述身份证尾号1234", (("tail", "1234"),)),
        ("身份证后四位是1234", (("tail", "1234"),)),
        ("身份证号后4位：123X", (("tail", "123X"),)),
        ("身份证号后4位：123x", (("tail", "123X"),)),
        ("身份证号后４位：１２３４", (("tail", "1234"),)),
        ("身份证前六位410123", (("head", "410123"),)),
        ("身份证号码开头4101", (("head", "4101"),)),
        ("尾数 1234", (("tail", "1234"),)),
        ("本人说身份证号记不清，后六位是121234", (("tail", "121234"),)),
        ("身份证前六位410123，尾号1234", (("head", "410123"), ("tail", "1234"))),
        (f"随身携带身份证{ID_M}，已核实", (("full", ID_M),)),
        (f"身份证号码：{ID_X.lower()}", (("full", ID_X),)),
        ("身份证号110101650312123", (("full", ID_M),)),  # old 15-digit after the word
        (f"证件{ID_M}，尾号{ID_M[-4:]}", (("full", ID_M), ("tail", ID_M[-4:]))),
        # phone numbers and other numbers are not ID fragments
        ("家属电话13812345678", ()),
        ("手机尾号1234", ()),
        ("联系电话尾号5678", ()),
        ("银行卡尾号6789", ()),
        ("身份证尾号13812345678", ()),
        ("身份证后四位12345", ()),  # stated count does not fit
        ("身份证前六位990123", ()),  # not a province code
        ("编号长救23-015", ()),
        (_bad_check(ID_M), ()),  # invalid 18-digit number
        ("无", ()),
        ("", ()),
        ("   ", ()),
        (None, ()),
        (float("nan"), ()),
        (12345, ()),
        ("老年痴呆，无法交流" * 2000, ()),
    ],
)
def test_id_fragments(text, expected):
    assert tuple((f.kind, f.digits) for f in id_fragments(text)) == expected


def test_id_fragment_type():
    (frag,) = id_fragments("自述身份证尾号1234")
    assert frag == IdFragment("tail", "1234")
    with pytest.raises(AttributeError):
        frag.digits = "0000"


@pytest.mark.parametrize("number, fragments, want", [
    ("410123196003010024", "", "0024"),
    ("", "tail:1234", "1234"),
    ("", "tail:123", ""),  # three digits say too little
    ("410123196003010024", "tail:0024|full:41012319650505003X", "0024|003X"),  # each once, number first
    ("", "head:410123|tail:56789", "6789"),  # a head fragment is not a tail
    ("", "", ""),
])
def test_id_tails(number, fragments, want):
    assert id_tails(number, fragments) == want
