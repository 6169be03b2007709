"""Tests for xunqin.normalizers.text."""

import pytest

from xunqin.normalizers.text import clean_text, han_only, is_han, simplify_test, to_simplified


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("\t\n", ""),
        ("王秀英", "王秀英"),
        ("  王秀英  ", "王秀英"),
        ("王\u3000秀英", "王 秀英"),  # ideographic space -> ASCII space
        ("王 \t  秀英", "王 秀英"),
        ("ＷＡＮＧ　１２３", "WANG 123"),  # full-width letters and digits
        ("王某（自称）", "王某(自称)"),  # full-width brackets
        ("？？", "??"),
        ("李\u00a0四", "李 四"),  # no-break space
        ("a\r\nb", "a b"),
        ("①", "1"),
        ("王" * 200, "王" * 200),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        (None, ""),
        ("劉德華", "刘德华"),
        ("張學友", "张学友"),
        ("歐陽鋒", "欧阳锋"),
        ("萬俟卨", "万俟卨"),
        ("尉遲恭", "尉迟恭"),
        ("鍾麗緹", "钟丽缇"),
        ("王秀英", "王秀英"),  # already simplified: unchanged
        ("李乾", "李乾"),  # 乾 qián is standard in simplified too; OpenCC alone gives 干
        ("乾隆", "乾隆"),
        ("陳乾坤", "陈乾坤"),
        ("abc 123", "abc 123"),
        ("葉", "叶"),
        ("瀋陽", "沈阳"),
    ],
)
def test_to_simplified(raw, expected):
    assert to_simplified(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("王秀英", "王秀英"),
        ("王1", "王"),
        ("王某(自称)", "王某自称"),
        ("长救23-015", "长救"),
        ("Wang 王 😀", "王"),
        ("买买提·艾力", "买买提艾力"),
        ("？？", ""),
        ("〇", ""),  # ideographic zero is not an ideograph of a name
        ("𠮷野家", "𠮷野家"),  # Ext B character kept
        ("㐀", "㐀"),  # Ext A
        ("王　秀英", "王秀英"),
    ],
)
def test_han_only(raw, expected):
    assert han_only(raw) == expected


@pytest.mark.parametrize(
    ("ch", "expected"),
    [("王", True), ("𠮷", True), ("a", False), ("1", False), ("，", False), ("😀", False)],
)
def test_is_han(ch, expected):
    assert is_han(ch) is expected


def test_text_that_skips_the_converter_is_text_the_converter_leaves_alone():
    """to_simplified returns text holding no t2s-changing character as it is, without OpenCC:
    check that OpenCC would indeed leave it alone, over every CJK character and every text
    cell of the checked-in sample."""
    import csv
    from pathlib import Path

    from xunqin.normalizers import text

    changing = text._changing_chars()
    assert changing is not None and len(changing) > 2000 and "葉" in changing and "王" not in changing
    convert = text._t2s().convert
    corpus = [chr(cp) for cp in range(0x4E00, 0xA000)]
    corpus += [key for group in text._t2s()._dict_chain_data for entry in group for key in entry[-1]]
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    for name in ("stations.csv", "reports.csv"):
        with (sample / name).open(encoding="utf-8") as fh:
            corpus += [cell for row in csv.reader(fh) for cell in row if cell]
    skipped = [s for s in corpus if changing.isdisjoint(s)]
    assert len(skipped) > len(corpus) // 2
    assert [s for s in skipped if convert(s) != s] == []


@pytest.mark.parametrize(
    ("column", "part", "may_change"),
    [
        ("臺灣省|河南省|廣州", "臺灣省", True),
        ("臺灣省|河南省|廣州", "河南省", False),
        ("臺灣省|河南省|廣州", "廣州", True),
        ("河南省|周口市", "周口市", False),  # nothing in the column changes
        ("", "", False),
    ],
)
def test_simplify_test(column, part, may_change):
    assert simplify_test(column)(part) is may_change
    if not may_change:
        assert to_simplified(part) == part
