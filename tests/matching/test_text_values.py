"""Column text for preparing: what ``astype("string").fillna("")`` gives, without the string dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xunqin.matching.codes import distinct_texts, per_distinct, text_values

COLUMNS = {
    "text_and_missing": pd.Series(["王秀英", None, np.nan, "wan|yin", ""], dtype=object),
    "numbers_among_text": pd.Series([1, None, "x"], dtype=object),
    "floats": pd.Series([1.0, np.nan]),
    "empty": pd.Series([], dtype=object),
    "string_dtype": pd.Series(["x", pd.NA], dtype="string"),
    "arrow_strings": pd.Series(["x", None], dtype="string[pyarrow]"),
    "all_missing": pd.Series([None, None], dtype=object),
    "missing_time": pd.Series([pd.NaT, "2020"], dtype=object),
    "booleans": pd.Series([True, None], dtype=object),
    "empty_and_missing": pd.Series(["", None, "a", np.nan, ""], dtype=object),
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_text_values_are_the_string_dtype_filled(name: str) -> None:
    column = COLUMNS[name]
    before = column.copy()
    got = text_values(column)
    assert got.dtype == object and all(type(v) is str for v in got)
    assert got.tolist() == column.astype("string").fillna("").to_numpy(dtype=object).tolist()
    pd.testing.assert_series_equal(column, before)  # the frame's own array is not written to


def test_per_distinct_works_each_text_out_once_and_keeps_the_index() -> None:
    seen: list[str] = []

    def first(text: str) -> str:
        seen.append(text)
        return text.split("|", 1)[0]

    column = pd.Series(["a|b", None, "a|b", "c", np.nan, ""], index=[10, 11, 12, 13, 14, 15], dtype=object)
    got = per_distinct(column, first)
    assert got.tolist() == ["a", "", "a", "c", "", ""] and got.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert sorted(seen) == ["", "a|b", "c"]


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_distinct_texts_give_the_text_values(name: str) -> None:
    column = COLUMNS[name]
    before = column.copy()
    codes, uniques = distinct_texts(column)
    assert uniques.dtype == object and all(type(v) is str for v in uniques)
    assert uniques[codes].tolist() == text_values(column).tolist()
    assert codes.dtype.kind == "i" and (len(codes) == 0 or codes.min() >= 0)
    assert uniques.tolist().count("") <= 1  # a missing cell shares the empty text's code
    pd.testing.assert_series_equal(column, before)


# (cells, the values of each row): what splitting each cell on '|' and dropping '' gives
SPLITS = [
    (["wang|wan", "wang", None, "", "li|wang|li"], [["wang", "wan"], ["wang"], [], [], ["li", "wang"]]),
    (["|", "a||b", "|a|", "a"], [[], ["a", "b"], ["a"], ["a"]]),
    ([None, None], [[], []]),
    ([], []),
    (["410000|410100", "410000"], [["410000", "410100"], ["410000"]]),
]


@pytest.mark.parametrize("cells, want", SPLITS)
def test_split_multi_holds_each_rows_values(cells, want):
    from xunqin.matching.codes import Vocabulary, split_multi

    vocab = Vocabulary()
    field = split_multi(pd.Series(cells, dtype=object), vocab)
    table = vocab.decode_table()
    got = [sorted(table[field.codes[field.indptr[r]:field.indptr[r + 1]]].tolist()) for r in range(field.n)]
    assert got == [sorted(set(w)) for w in want]


@pytest.mark.parametrize("index", [pd.RangeIndex(3), pd.Index([7, 3, 5]), pd.RangeIndex(2, 5)])
def test_positional_frames_are_indexed_from_zero_without_copying(index):
    from xunqin.matching.features import positional

    df = pd.DataFrame({"name_clean": np.array(["甲", "乙", "丙"], dtype=object)}, index=index)
    got = positional(df)
    assert list(got.index) == [0, 1, 2] and got["name_clean"].tolist() == ["甲", "乙", "丙"]
    assert np.shares_memory(got["name_clean"].to_numpy(), df["name_clean"].to_numpy())
    assert list(df.index) == list(index)  # the caller's frame keeps its index


def test_id_tail_column_is_id_tails_of_every_row():
    """The prepared tail column, found for rows without fragments without a call per row, is
    what id_tails gives each row (numbers alone, fragments alone, both, neither, missing)."""
    from xunqin.matching.features import _id_tail
    from xunqin.normalizers.id_numbers import id_tails

    numbers = ["410123196003010024", "", None, "410123196003010024", "", "12", "41012319650505003X"]
    fragments = ["", "tail:1234", None, "tail:0024|full:41012319650505003X", "head:410123", "", None]
    got = _id_tail(pd.DataFrame({"id_number": numbers, "id_fragments": fragments}, index=[5, 3, 9, 1, 0, 2, 4]))
    assert got.tolist() == [id_tails(n or "", f or "") for n, f in zip(numbers, fragments)]
    assert got.tolist() == ["0024", "1234", "", "0024|003X", "", "", "003X"]
    assert list(got.index) == [5, 3, 9, 1, 0, 2, 4]
