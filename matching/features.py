"""Normalized tables (from :mod:`xunqin.ingest`) to the arrays the matcher works on.

Both sides are turned into a :class:`Side` whose fields have the same names where they are
compared (``name_pinyin`` of a station meets ``name_pinyin`` of a report, which for a report
already includes its aliases), so blocking keys and comparison levels name fields, not columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from .codes import MultiValue, Vocabulary, distinct_texts, from_pairs, per_distinct, single, split_multi, text_values

NO_NAME_KINDS = ("placeholder", "empty")
DAYS_PER_YEAR = 365.2425
BIRTH_BUCKET_YEARS = 5
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass
class Side:
    ids: np.ndarray  # record_id / report_id as object array
    n: int
    values: dict[str, np.ndarray] = field(default_factory=dict)
    multi: dict[str, MultiValue] = field(default_factory=dict)

    def take(self, rows: np.ndarray) -> Side:
        """The rows ``rows`` (positions, in that order) as a new side."""
        rows = np.asarray(rows, dtype=np.int64)
        return Side(self.ids[rows], len(rows), {k: v[rows] for k, v in self.values.items()},
                    {k: m.take(rows) for k, m in self.multi.items()})

    def row_range(self, start: int, stop: int) -> Side:
        """Rows ``start .. stop - 1`` as views of this side's arrays (nothing is copied)."""
        stop = min(stop, self.n)
        return Side(self.ids[start:stop], stop - start, {k: v[start:stop] for k, v in self.values.items()},
                    {k: m.row_range(start, stop) for k, m in self.multi.items()})

    def append(self, other: Side) -> Side:
        """This side's rows followed by ``other``'s (prepared with the same vocabulary)."""
        return Side.concat([self, other])

    @staticmethod
    def concat(sides: Sequence[Side], keep: Sequence[np.ndarray | None] | None = None) -> Side:
        """The sides' rows in order, of each side the rows where its ``keep`` (bool per row,
        None: every row) holds: one copy per field, however many sides (at size M, copying the
        reports cost 0.6-0.8 s, so a night's superseded rows taken out and its new rows put in
        are one copy, not two). A single side kept whole is returned as it is."""
        first = sides[0]
        keep = list(keep) if keep is not None else [None] * len(sides)
        if len(keep) != len(sides) or any(k is not None and (k.dtype != bool or len(k) != s.n) for s, k in zip(sides, keep)):
            raise ValueError("keep needs a bool per row of each side (or None)")
        if len(sides) == 1 and keep[0] is None:
            return first
        if any(s.values.keys() != first.values.keys() or s.multi.keys() != first.multi.keys() for s in sides):
            raise ValueError("sides hold different fields")

        sizes = [s.n if k is None else int(k.sum()) for s, k in zip(sides, keep)]
        n = sum(sizes)

        def rows(arrays: list[np.ndarray]) -> np.ndarray:
            out = np.empty(n, dtype=np.result_type(*arrays))
            at = 0
            for array, k, size in zip(arrays, keep, sizes):
                if k is None:
                    out[at:at + size] = array
                else:
                    np.compress(k, array, out=out[at:at + size])
                at += size
            return out

        return Side(rows([s.ids for s in sides]), n, {k: rows([s.values[k] for s in sides]) for k in first.values},
                    {k: MultiValue.concat([s.multi[k] for s in sides], keep) for k in first.multi})


@dataclass
class Prepared:
    stations: Side
    reports: Side
    vocab: Vocabulary
    name_frequency: np.ndarray  # per vocabulary code: share of reports holding that name
    tf_floor: float  # the share of a name held by one report of all those held


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _float(df: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(_col(df, name), errors="coerce").to_numpy(dtype=float)


def _days(df: pd.DataFrame, name: str) -> np.ndarray:
    """Dates as float days since 1970 (nan where missing)."""
    values = pd.to_datetime(_col(df, name), errors="coerce").to_numpy(dtype="datetime64[D]")
    out = (values - EPOCH).astype(float)
    out[np.isnat(values)] = np.nan
    return out


def _gender(df: pd.DataFrame) -> np.ndarray:
    g = text_values(_col(df, "gender"))
    return np.where(g == "男", 1, np.where(g == "女", 2, 0)).astype(np.int8)


@lru_cache(maxsize=200_000)
def _fold_joined(joined: str) -> str:
    from xunqin.normalizers.phonetic import fold_key

    return "|".join(dict.fromkeys(fold_key(k) for k in joined.split("|") if k))


def _folded(series: pd.Series) -> pd.Series:
    return per_distinct(series, lambda u: _fold_joined(u) if u else "")


def _syllables(series: pd.Series) -> pd.Series:
    """'xiu ying|xiu yin' -> 'xiu|ying|yin': the syllables of every reading."""
    return per_distinct(series, lambda u: u.replace(" ", "|"))


def partial_names(surname: str, given: str) -> str:
    """'zang|cang', 'wei min' -> 'zang wei|zang min|cang wei|cang min': the surname with each
    character of a given name of two or more, in order (张伟 or 张明 written for 张伟明)."""
    out = []
    for reading in given.split("|") if given else ():
        syllables = reading.split(" ")
        if len(syllables) < 2:
            continue
        for family in surname.split("|") if surname else ():
            out.extend(f"{family} {syllable}" for syllable in syllables if syllable)
    return "|".join(dict.fromkeys(out))


def _partials(surname_folded: pd.Series, given_folded: pd.Series) -> pd.Series:
    # '/' is in no reading: the pair as one string, so each distinct pair is worked out once
    pairs = text_values(surname_folded) + "/" + text_values(given_folded)
    codes, uniques = pd.factorize(pairs)
    table = np.array([partial_names(*u.split("/", 1)) for u in uniques] + [""], dtype=object)
    return pd.Series(table[codes], index=given_folded.index, dtype=object)


def _last_syllables(series: pd.Series) -> pd.Series:
    """'xiu yin|xiu yan' -> 'yin|yan': the last syllable of every reading."""
    return per_distinct(series, lambda u: "|".join(dict.fromkeys(r.rsplit(" ", 1)[-1] for r in u.split("|") if r)))


def _prefectures(codes: pd.Series) -> pd.Series:
    """Candidate codes -> prefecture codes (ppcc00) of those below province level."""

    def one(joined: str) -> str:
        out = []
        for code in joined.split("|"):
            if len(code) == 6 and code[2:4] != "00":
                out.append(code[:4] + "00")
        return "|".join(dict.fromkeys(out))

    return per_distinct(codes, one)


def _provinces(codes: pd.Series) -> pd.Series:
    def one(joined: str) -> str:
        return "|".join(dict.fromkeys(c[:2] + "0000" for c in joined.split("|") if len(c) == 6))

    return per_distinct(codes, one)


def _mark_levels(marks: pd.Series, vocab: Vocabulary, n: int) -> dict[str, MultiValue]:
    """Split mark tokens 'kind:part:side' into the fine / part / kind granularities."""
    def levels(value: str) -> tuple[str, str, str]:
        fine, part, kind = set(), set(), set()
        for token in value.split("|") if value else ():
            pieces = (token.split(":") + ["", ""])[:3]
            kind.add(pieces[0])
            if pieces[1]:
                part.add(f"{pieces[0]}:{pieces[1]}")
                if pieces[2]:
                    fine.add(f"{pieces[0]}:{pieces[1]}:{pieces[2]}")
        return "|".join(sorted(fine)), "|".join(sorted(part)), "|".join(sorted(kind))

    row_codes, uniques = distinct_texts(marks)
    table = [levels(u) for u in uniques]
    out = {}
    for k, name in enumerate(("marks_fine", "marks_part", "marks_kind")):
        level = np.empty(len(table), dtype=object)
        level[:] = [t[k] for t in table]
        out[name] = split_multi(pd.Series(level[row_codes], dtype=object), vocab)
    return out


def _id_tail(df: pd.DataFrame) -> pd.Series:
    """Last four characters of the full ID number plus any 'tail:' fragment from notes."""
    from xunqin.normalizers.id_numbers import id_tails

    full = text_values(_col(df, "id_number"))
    frags = text_values(_col(df, "id_fragments"))
    # most rows have no fragment: their tail is the number's, found without a call per row
    tails = np.array([number[-4:] if len(number) >= 4 else "" for number in full.tolist()], dtype=object)
    noted = np.flatnonzero(frags != "")
    tails[noted] = [id_tails(number, fragments) for number, fragments in zip(full[noted].tolist(), frags[noted].tolist())]
    return pd.Series(tails, index=df.index, dtype=object)


def _birth_buckets_for_range(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Birth-year intervals to the (row, bucket) pairs of every 5-year bucket they touch."""
    ok = ~(np.isnan(low) | np.isnan(high))
    rows = np.flatnonzero(ok)
    first = np.floor(low[ok] / BIRTH_BUCKET_YEARS).astype(np.int64)
    last = np.floor(high[ok] / BIRTH_BUCKET_YEARS).astype(np.int64)
    counts = np.maximum(last - first + 1, 0)
    owner = np.repeat(rows, counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(first, counts) + offsets


def _bucket_multi(low, high, vocab: Vocabulary, n: int) -> MultiValue:
    rows, buckets = _birth_buckets_for_range(low, high)
    codes = vocab.encode(np.array([f"b{b}" for b in buckets], dtype=object)) if len(rows) else buckets
    return from_pairs(rows, codes.astype(np.int64), n)


def station_birth_interval(
    found_day: np.ndarray, age_low: np.ndarray, age_high: np.ndarray, slack: float
) -> tuple[np.ndarray, np.ndarray]:
    """Plausible birth years (fractional) of a station person from the estimated age."""
    found_year = 1970 + found_day / DAYS_PER_YEAR
    # estimates of old people err more (and the homeless look older than they are)
    tolerance = slack + 0.06 * np.nan_to_num(age_high)
    return found_year - age_high - tolerance, found_year - age_low + tolerance


def _first(series: pd.Series) -> pd.Series:
    """The first of '|'-joined values: the reading or place the normalizer ranked most likely.

    Kept as its own column because a MultiValue row holds its codes in code order, which
    depends on what the vocabulary met first (another order in a refreshed snapshot).
    """
    return per_distinct(series, lambda u: u.split("|", 1)[0])


def _names(df: pd.DataFrame, vocab: Vocabulary, side: Side, alias: bool) -> None:
    n = len(df)
    name = _col(df, "name_clean")
    side.values["name_clean"] = single(name, vocab)
    pinyin = _col(df, "name_pinyin")
    folded = _col(df, "name_folded")
    surname = _col(df, "surname_pinyin")
    given = _col(df, "given_pinyin")
    given_folded = _col(df, "given_folded")
    m = side.multi
    m["name_pinyin"] = split_multi(pinyin, vocab)
    m["name_folded"] = split_multi(folded, vocab)
    m["surname_pinyin"] = split_multi(surname, vocab)
    m["surname_folded"] = split_multi(_folded(surname), vocab)
    m["given_pinyin"] = split_multi(given, vocab)
    m["given_folded"] = split_multi(given_folded, vocab)
    first = _first(pinyin)
    if alias:  # a report with no name but an alias (小名): the alias's reading
        first = first.where(first != "", _first(_col(df, "alias_pinyin")))
    side.values["name_pinyin_first"] = single(first, vocab)
    if alias:
        # a report's aliases (小名, former names) count as names of the same person
        m["name_all"] = split_multi(name, vocab).union(split_multi(_col(df, "alias_clean"), vocab))
        m["name_pinyin"] = m["name_pinyin"].union(split_multi(_col(df, "alias_pinyin"), vocab))
        m["name_folded"] = m["name_folded"].union(split_multi(_col(df, "alias_folded"), vocab))
        alias_pinyin = _col(df, "alias_pinyin")
        m["given_pinyin"] = m["given_pinyin"].union(split_multi(alias_pinyin, vocab))
        m["given_folded"] = m["given_folded"].union(split_multi(_col(df, "alias_folded"), vocab))
        m["syllables"] = split_multi(_syllables(given), vocab).union(
            split_multi(_syllables(alias_pinyin), vocab)
        )
        m["syllables_folded"] = split_multi(_syllables(given_folded), vocab).union(
            split_multi(_syllables(_col(df, "alias_folded")), vocab)
        )
        m["partial_folded"] = split_multi(_partials(_folded(surname), given_folded), vocab)
        # 小红, 阿红, 红红 are mostly made from the last character of the given name (丽红)
        m["given_last_folded"] = split_multi(_last_syllables(given_folded), vocab)
        kind = np.where(side.values["name_clean"] < 0, "empty", "full")
    else:
        kind = _col(df, "name_kind").astype("string").fillna("empty").to_numpy(dtype=object)
        m["name_all"] = split_multi(name, vocab)
        core = _col(df, "core_pinyin").astype("string").fillna("")
        # 阿田, 小王: the character may be the surname or the given name; keep both readings
        surname_nickname = (kind == "nickname") & (core == "").to_numpy()
        core = core.where(~surname_nickname, surname.astype("string").fillna(""))
        m["core_pinyin"] = split_multi(core, vocab)
        m["core_folded"] = split_multi(_folded(core), vocab)
        # 金生, 向刚: two characters whose first is a surname may be a given name written alone
        two_chars = (kind == "full") & (name.astype("string").fillna("").str.len() == 2).to_numpy()
        whole = pinyin.where(two_chars, "")
        m["given_pinyin"] = m["given_pinyin"].union(split_multi(whole, vocab))
        m["given_folded"] = m["given_folded"].union(split_multi(folded.where(two_chars, ""), vocab))
    side.values["name_kind"] = np.asarray(kind, dtype=object)
    side.values["name_null"] = np.isin(side.values["name_kind"], NO_NAME_KINDS)
    assert m["name_pinyin"].n == n


def _places(df, vocab, side: Side, prefix: str, codes_col: str, lat: str, lon: str) -> None:
    codes = _col(df, codes_col)
    side.multi[f"{prefix}_codes"] = split_multi(codes, vocab)
    side.multi[f"{prefix}_prefectures"] = split_multi(_prefectures(codes), vocab)
    side.multi[f"{prefix}_provinces"] = split_multi(_provinces(codes), vocab)
    side.values[f"{prefix}_lat"] = _float(df, lat)
    side.values[f"{prefix}_lon"] = _float(df, lon)


def _common(df: pd.DataFrame, vocab: Vocabulary, side: Side) -> None:
    side.values["gender"] = _gender(df)
    side.values["height"] = _float(df, "height_cm")
    home = _col(df, "hometown_codes")
    side.multi["home_codes"] = split_multi(home, vocab)
    side.values["home_first"] = single(_first(home), vocab)
    side.multi["home_prefectures"] = split_multi(_prefectures(home), vocab)
    side.multi["home_provinces"] = split_multi(_provinces(home), vocab)
    side.multi.update(_mark_levels(_col(df, "marks"), vocab, side.n))
    side.multi["conditions"] = split_multi(_col(df, "conditions"), vocab)
    side.values["id_number"] = single(_col(df, "id_number"), vocab)
    side.multi["id_tail"] = split_multi(_id_tail(df), vocab)


def prepare_stations(df: pd.DataFrame, vocab: Vocabulary, slack: float = 2.0) -> Side:
    side = Side(ids=_col(df, "record_id").astype(str).to_numpy(dtype=object), n=len(df))
    _names(df, vocab, side, alias=False)
    _common(df, vocab, side)
    side.values["age_low"] = _float(df, "age_low")
    side.values["age_high"] = _float(df, "age_high")
    side.values["found_day"] = _days(df, "found_date")
    _places(df, vocab, side, "found", "found_codes", "found_lat", "found_lon")
    side.multi["dialect_provinces"] = split_multi(_col(df, "dialect_provinces"), vocab)
    side.multi["home_or_dialect_provinces"] = side.multi["home_provinces"].union(
        side.multi["dialect_provinces"]
    )
    low, high = station_birth_interval(
        side.values["found_day"], side.values["age_low"], side.values["age_high"], slack
    )
    side.values["birth_low"], side.values["birth_high"] = low, high
    side.multi["birth_bucket"] = _bucket_multi(low, high, vocab, side.n)
    side.multi["gender_key"] = _gender_key(side.values["gender"], vocab)
    side.multi["age_unknown"] = _flag(np.isnan(low) | np.isnan(high), vocab)
    return side


def prepare_reports(df: pd.DataFrame, vocab: Vocabulary) -> Side:
    side = Side(ids=_col(df, "report_id").astype(str).to_numpy(dtype=object), n=len(df))
    _names(df, vocab, side, alias=True)
    _common(df, vocab, side)
    missing_day = _days(df, "missing_date")
    birth_day = _days(df, "birth_date")
    precision = _col(df, "birth_precision").astype("string").fillna("").to_numpy(dtype=object)
    age_at_missing = _float(df, "age_at_missing")
    birth_year = 1970 + birth_day / DAYS_PER_YEAR
    uncertainty = np.where(precision == "year", 0.5, np.where(precision == "month", 0.1, 0.0))
    # no birth date: age at missing (whole years) gives birth within a year before that
    from_age = np.isnan(birth_year) & ~np.isnan(age_at_missing) & ~np.isnan(missing_day)
    birth_year = np.where(
        from_age, 1970 + missing_day / DAYS_PER_YEAR - age_at_missing - 0.5, birth_year
    )
    uncertainty = np.where(from_age, 0.5, uncertainty)
    side.values["birth_year"] = birth_year
    side.values["birth_uncertainty"] = uncertainty
    side.values["missing_day"] = missing_day
    side.values["age_at_missing"] = np.where(
        np.isnan(age_at_missing), 1970 + missing_day / DAYS_PER_YEAR - birth_year, age_at_missing
    )
    _places(df, vocab, side, "missing", "missing_codes", "missing_lat", "missing_lon")
    side.multi["birth_bucket"] = _bucket_multi(
        birth_year - uncertainty, birth_year + uncertainty, vocab, side.n
    )
    side.multi["gender_key"] = _gender_key(side.values["gender"], vocab)
    side.multi["age_unknown"] = _flag(np.ones(side.n, dtype=bool), vocab)
    return side


def _flag(rows: np.ndarray, vocab: Vocabulary) -> MultiValue:
    """A one-value key held by the flagged rows only (limits a pass to them)."""
    (code,) = vocab.encode(np.array(["flag"], dtype=object))
    held = np.flatnonzero(rows)
    return from_pairs(held, np.full(len(held), code, dtype=np.int64), len(rows))


def _gender_key(gender: np.ndarray, vocab: Vocabulary) -> MultiValue:
    """Known gender as a one-value key; unknown gender joins both (it must not block a pair)."""
    male, female = vocab.encode(np.array(["g1", "g2"], dtype=object))
    rows_m = np.flatnonzero(gender != 2)
    rows_f = np.flatnonzero(gender != 1)
    rows = np.concatenate([rows_m, rows_f])
    codes = np.concatenate([np.full(len(rows_m), male), np.full(len(rows_f), female)])
    return from_pairs(rows, codes, len(gender))


def assemble(stations: Side, reports: Side, vocab: Vocabulary) -> Prepared:
    """Both sides (prepared with ``vocab``) with the term frequencies of the reports' names."""
    # term frequencies of names (and aliases) among reports: 王秀英 agrees by chance more often
    names = reports.multi["name_all"].codes
    frequency = np.bincount(names, minlength=len(vocab)).astype(float) / max(reports.n, 1)
    return Prepared(stations, reports, vocab, frequency, 1.0 / max(reports.n, 1))


def positional(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` indexed 0 .. n-1, its columns not copied (``reset_index`` copied every column:
    1.7 s of preparing size M's reports)."""
    index = df.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return df
    out = df.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    return out


def prepare(stations: pd.DataFrame, reports: pd.DataFrame, slack: float = 2.0) -> Prepared:
    # stations first: their values get the same codes whichever reports follow (every report
    # shard of matching/shards.py numbers the station side alike)
    vocab = Vocabulary()
    stations_side = prepare_stations(positional(stations), vocab, slack)
    reports_side = prepare_reports(positional(reports), vocab)
    return assemble(stations_side, reports_side, vocab)
