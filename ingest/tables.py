"""Raw exchange tables -> normalized, Parquet-friendly DataFrames plus a rejects table.

Every normalizer runs once per distinct value of a column (values repeat a lot: station names,
genders, dates, places), and its ValueError becomes a rejects row while the record keeps its
other fields. Rows that cannot be keyed (empty or duplicate id) are refused as a whole.
Multi-valued results are '|'-joined strings; dates are datetime64[ns]; numbers are float64.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from xunqin.normalizers.text import nfkc

from .read import MAX_FIELD, RawTable
from .reasons import mask_id_number, mask_ids_in_text, reason_text
from .schema import key_column

# ``reason`` is the stable English code, ``reason_zh`` what station staff read.
REJECT_COLUMNS = ("file", "row", "column", "value", "reason", "reason_zh", "severity")
NO_NAME_KINDS = frozenset({"placeholder", "empty"})
AGE_SLACK_YEARS = 10  # staff age estimates are rough: flag only gross disagreement with an ID
AGE_AT_MISSING_SLACK = 2  # years between stated age at missing and birth/missing dates
DAYS_PER_YEAR = 365.2425
# From this many rows a reports file's two place columns are normalized in a second process
# while this one does the other columns: every address is its own distinct value (96% of them
# at size M), and the two take about half of the CPU time (2.8 s of 5.8 s for 50,000 reports).
# The forked worker starts at once; below this, sending its columns back is not won back.
SECOND_PROCESS_ROWS = 50_000
# The second process takes every hometown and this share of the missing places (the first
# rows); this one the other columns and the rest of the missing places. At M the hometowns
# cost 8.6 s of CPU, the missing places 7.3 s, the other columns about 12 s; the second
# process normalizes the stations file first (ingest_files). With 54% there this process
# waited 2.2 s for them; ingests of M at 0.40 / 0.47 / 0.54: 21.0 / 20.3 / 21.4 s (three each).
SECOND_PROCESS_MISSING_SHARE = 0.47

NAME_COLUMNS = (
    "name_raw", "name_clean", "name_kind", "surname", "given", "name_core", "name_pinyin",
    "name_folded", "surname_pinyin", "given_pinyin", "given_folded", "core_pinyin",
)
ID_COLUMNS = ("id_number", "id_region", "id_birth", "id_gender", "id_fragments")
HOMETOWN_COLUMNS = ("hometown", "hometown_level", "hometown_codes", "hometown_prefectures", "hometown_provinces")
FEATURE_COLUMNS = ("features", "marks", "conditions")

STATION_OUTPUT = (
    "source_file", "source_row", "record_id", "station", *NAME_COLUMNS, "gender", "age_low",
    "age_high", "found_date", "found_date_precision", "found_place", "found_codes",
    "found_province", "found_lat", "found_lon", *HOMETOWN_COLUMNS, "dialect", "dialect_provinces",
    "height_cm", *FEATURE_COLUMNS, *ID_COLUMNS, "notes",
)
REPORT_OUTPUT = (
    "source_file", "source_row", "report_id", "source", *NAME_COLUMNS, "aliases_raw", "alias_clean",
    "alias_cores", "alias_pinyin", "alias_folded", "gender", "birth_date", "birth_precision",
    "age_at_missing", *ID_COLUMNS, "missing_date", "missing_date_precision", "missing_place",
    "missing_codes", "missing_province", "missing_lat", "missing_lon", *HOMETOWN_COLUMNS,
    "height_cm", *FEATURE_COLUMNS, "contact_phone",
)
FLOAT_COLUMNS = frozenset({
    "age_low", "age_high", "found_lat", "found_lon", "missing_lat", "missing_lon", "height_cm", "age_at_missing",
})
DATE_COLUMNS = frozenset({"found_date", "missing_date", "birth_date", "id_birth"})


# --------------------------------------------------------------------------- helpers


class _Rejects:
    """Accumulates rejects rows column-wise (cheap for many rows).

    Values are shown as the station needs them to find and fix the cell, except ID numbers:
    the ID column's values, and any ID-shaped run in another column, are masked."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.cols: dict[str, list[Any]] = {c: [] for c in REJECT_COLUMNS if c != "reason_zh"}

    def add(self, rows: Iterable[int], column: str | None, values: Iterable[Any], reasons: Iterable[str], severity: str) -> None:
        rows = list(rows)
        self.cols["file"].extend([self.file] * len(rows))
        self.cols["row"].extend(int(r) for r in rows)
        self.cols["column"].extend([column] * len(rows))
        shown = (mask_id_number if column == "id_number" else mask_ids_in_text)
        self.cols["value"].extend("" if v is None else shown(str(v)[:MAX_FIELD]) for v in values)
        self.cols["reason"].extend(reasons)
        self.cols["severity"].extend([severity] * len(rows))

    def frame(self) -> pd.DataFrame:
        reasons = self.cols["reason"]
        in_chinese = {code: reason_text(code) for code in set(reasons)}
        cols = {**self.cols, "reason_zh": [in_chinese[code] for code in reasons]}
        df = pd.DataFrame(cols, columns=list(REJECT_COLUMNS))
        return df.astype({"row": "int64"})


def empty_rejects() -> pd.DataFrame:
    """A rejects table with no rows and the right columns."""
    return _Rejects("").frame()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError):
        text = str(exc).strip() or "unreadable value"
        return text[:200]
    # A normalizer bug must not abort the whole file; the type name carries no personal data.
    return f"could not be read ({type(exc).__name__})"


class _Mapped:
    """A normalizer applied to each distinct value of a text column.

    ``partial`` gives, for a result that was taken, the parts of its cell that were not
    ((part, reason) pairs: a cell with two phone numbers, one cut short); each is a reject too.
    """

    def __init__(self, text: pd.Series, func: Callable[[str], Any],
                 partial: Callable[[Any], tuple[tuple[str, str], ...]] | None = None,
                 parser_for: Callable[[list[Any]], Callable[[Any], Any]] | None = None) -> None:
        """``parser_for(distinct values)``, when given, makes ``func`` for those values (one
        that prepares them together: :func:`~xunqin.normalizers.places.place_parser`)."""
        self.text = text
        self.partial = partial
        # a missing cell (None, NaN) reads as empty text: it gets the code after the others
        codes, uniques = pd.factorize(text.to_numpy(dtype=object), sort=False)
        uniques = list(uniques)
        missing = codes < 0
        if missing.any():
            codes[missing] = len(uniques)
            uniques.append("")
        self.codes = codes
        if parser_for is not None:
            func = parser_for(uniques)
        results: list[Any] = []
        reasons: list[str | None] = []
        for u in uniques:
            try:
                results.append(func(u))
                reasons.append(None)
            except Exception as exc:  # noqa: BLE001 - see _reason
                results.append(None)
                reasons.append(_reason(exc))
        self.results = results
        self.reasons = reasons

    def get(self, getter: Callable[[Any], Any]) -> np.ndarray:
        """Per-row object array of ``getter(result)`` (None where the result is None or the
        getter gives a missing value: NaN, NaT, pd.NA)."""
        values = [None if r is None else getter(r) for r in self.results]
        return self._per_row(np.fromiter(values, dtype=object, count=len(values)))

    def columns(self, getter: Callable[[Any], tuple[Any, ...]], width: int) -> list[np.ndarray]:
        """As :meth:`get` for each item of ``getter(result)``, a ``width``-tuple: one pass over
        the results for several columns."""
        blank = (None,) * width
        values = [blank if r is None else getter(r) for r in self.results]
        return [self._per_row(np.fromiter(column, dtype=object, count=len(values)))
                for column in (zip(*values) if values else [()] * width)]

    def _per_row(self, per_unique: np.ndarray) -> np.ndarray:
        # fromiter (in the callers) keeps each value as one element: np.array would unpack a
        # sequence. Missing values become None here, once per distinct cell, not per row.
        per_unique[pd.isna(per_unique)] = None
        return per_unique[self.codes] if len(self.codes) else np.empty(0, dtype=object)

    @classmethod
    def concat(cls, first: _Mapped, second: _Mapped) -> _Mapped:
        """The mapping of ``first``'s rows followed by ``second``'s (both without results)."""
        if first.results or second.results or first.partial or second.partial:
            raise ValueError("only mappings without results are joined")
        joined = object.__new__(cls)
        joined.text = pd.concat([first.text, second.text], ignore_index=True)
        joined.partial, joined.results = None, []
        joined.codes = np.concatenate([first.codes, second.codes + len(first.reasons)])
        joined.reasons = first.reasons + second.reasons
        return joined

    def without_results(self) -> _Mapped:
        """This mapping without the parsed values (what :meth:`reject_into` needs when there
        is no ``partial``): cheap to send from another process."""
        if self.partial is not None:
            raise ValueError("partial results need the parsed values")
        slim = object.__new__(_Mapped)
        slim.text, slim.partial, slim.codes, slim.reasons, slim.results = self.text, None, self.codes, self.reasons, []
        return slim

    def reject_into(self, rejects: _Rejects, source_row: np.ndarray, column: str, keep: np.ndarray) -> None:
        """One rejects row per kept row whose value the normalizer refused."""
        bad = np.array([r is not None for r in self.reasons], dtype=bool)
        if bad.any():
            idx = np.nonzero(bad[self.codes] & keep)[0]
            reasons = np.asarray(self.reasons, dtype=object)
            values = self.text.to_numpy(dtype=object)
            rejects.add(source_row[idx], column, values[idx], reasons[self.codes[idx]], "error")
        if self.partial is None:
            return
        for code, result in enumerate(self.results):
            parts = () if result is None else self.partial(result)
            if parts:
                rows = source_row[np.nonzero((self.codes == code) & keep)[0]]
                for part, reason in parts:
                    rejects.add(rows, column, [part] * len(rows), [reason] * len(rows), "error")


def _join(value: Any) -> str | None:
    """'|'-join a multi-value (sets sorted for stable output); None when empty."""
    if value is None:
        return None
    kind = type(value)
    # Fast paths for plain text items (all the normalizers give): a None, a non-text or an
    # empty item takes the general path below.
    if kind is tuple or kind is list:
        if "" not in value:
            try:
                return "|".join(dict.fromkeys(value)) or None
            except TypeError:
                pass
    elif kind is frozenset or kind is set:
        if "" not in value:
            try:
                return "|".join(sorted(value)) or None
            except TypeError:
                pass
    if isinstance(value, str):
        return value or None
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    items = [str(v) for v in dict.fromkeys(value) if v is not None and str(v) != ""]
    return "|".join(items) or None


@lru_cache(maxsize=1 << 16)
def _clean_text(value: str) -> str | None:
    """NFKC, trimmed; None when blank."""
    text = nfkc(value).strip()
    return text or None


def _text(series: pd.Series) -> np.ndarray:
    """A raw text column -> NFKC-trimmed object array (None for blank or rejected cells)."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), sort=False)  # missing: -1
    mapped = np.array([_clean_text(str(u)) for u in uniques] + [None], dtype=object)
    return mapped[codes]


def _blank_cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(None, holding only spaces) per cell of a raw column, looked at once per distinct value."""
    codes, uniques = pd.factorize(values)
    spaces = np.fromiter((not str(u).strip() for u in uniques), dtype=bool, count=len(uniques))
    missing = codes < 0
    return missing, np.append(spaces, False)[codes] & ~missing


def _raw(series: pd.Series) -> np.ndarray:
    """Raw text kept as typed, None for blank or rejected cells."""
    values = series.to_numpy(dtype=object).copy()
    missing, spaces = _blank_cells(values)
    values[missing | spaces] = None
    return values


def _dates(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")).astype("datetime64[ns]")


def _floats(values: np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


# --------------------------------------------------------------------------- keys


def _key(raw: RawTable, rejects: _Rejects, problems_by_cell: dict[tuple[int, str], tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(normalized key per row, refused mask); refused rows get one rejects row each."""
    name = key_column(raw.kind)
    source_row = raw.source_row.to_numpy()
    keys = _text(raw.data[name])
    cut = {row: (reason, text) for row, reason, text in raw.refused_rows}
    is_cut = np.isin(source_row, np.fromiter(cut, dtype=np.int64, count=len(cut))) if cut else np.zeros(len(keys), bool)
    for i in np.flatnonzero(is_cut):
        reason, text = cut[int(source_row[i])]
        rejects.add([int(source_row[i])], None, [text], [reason], "refused")
    empty = pd.isna(keys) & ~is_cut
    # a repeat of a key an earlier row kept (rows refused for a cut or an empty key keep none);
    # looked at as whole columns, not row by row (0.7 s of size M's ingest)
    eligible = np.flatnonzero(~is_cut & ~empty)
    kept = pd.Series(keys[eligible], dtype=object)
    repeat_of_kept = kept.duplicated().to_numpy()
    repeat = np.zeros(len(keys), dtype=bool)
    repeat[eligible[repeat_of_kept]] = True
    first_row = dict(zip(kept[~repeat_of_kept].tolist(), source_row[eligible[~repeat_of_kept]].tolist()))
    reasons: list[str] = []
    rows: list[int] = []
    values: list[Any] = []
    for i in np.flatnonzero(empty | repeat):
        r = int(source_row[i])
        rows.append(r)
        if empty[i]:
            problem = problems_by_cell.get((r, name))
            values.append(problem[1] if problem else raw.data[name].iat[i])
            reasons.append(f"{name} unreadable ({problem[0]}): row refused" if problem else f"empty {name}: row refused")
        else:
            values.append(keys[i])
            reasons.append(f"duplicate {name} (first at row {first_row[keys[i]]}): row refused")
    rejects.add(rows, name, values, reasons, "refused")
    return keys, is_cut | empty | repeat


# --------------------------------------------------------------------------- field groups


def _name_columns(series: pd.Series) -> tuple[dict[str, np.ndarray], _Mapped]:
    from xunqin.normalizers.names import parse_name

    m = _Mapped(series, parse_name)
    parts = m.columns(lambda p: (
        p.clean or None, p.kind, p.surname or None, p.given or None, p.core or None, _join(p.pinyin),
        _join(p.folded), _join(p.surname_pinyin), _join(p.given_pinyin), _join(p.given_folded),
        _join(p.core_pinyin),
    ), 11)
    out = {"name_raw": _raw(series), **dict(zip(NAME_COLUMNS[1:], parts))}
    # A name cell the reader rejected (formula, giant) is simply no name.
    out["name_kind"] = np.where(pd.isna(out["name_kind"]), "empty", out["name_kind"]).astype(object)
    return out, m


def _parse_aliases(raw: str) -> tuple[Any, ...]:
    from xunqin.normalizers.names import parse_name, split_aliases

    parsed = tuple(parse_name(a) for a in split_aliases(raw))
    return tuple(p for p in parsed if p.kind not in NO_NAME_KINDS)


def _alias_columns(series: pd.Series) -> tuple[dict[str, np.ndarray], _Mapped]:
    m = _Mapped(series, _parse_aliases)

    def flat(attr: str) -> Callable[[tuple[Any, ...]], str | None]:
        return lambda parsed: _join(flat_list(parsed, attr))

    return {
        "aliases_raw": _raw(series),
        "alias_clean": m.get(flat("clean")),
        "alias_cores": m.get(flat("core")),
        # a nickname alias (阿荣) has no full-name pinyin; its core's keys stand in
        "alias_pinyin": m.get(lambda parsed: _join([*flat_list(parsed, "pinyin"), *flat_list(parsed, "core_pinyin")])),
        "alias_folded": m.get(
            lambda parsed: _join([*flat_list(parsed, "folded"), *map(fold_key, flat_list(parsed, "core_pinyin"))])
        ),
    }, m


def flat_list(parsed: tuple[Any, ...], attr: str) -> list[str]:
    items: list[str] = []
    for p in parsed:
        v = getattr(p, attr)
        items.extend([v] if isinstance(v, str) else list(v or ()))
    return items


def fold_key(key: str) -> str:
    from xunqin.normalizers.phonetic import fold_key as fold

    return fold(key)


def _date_columns(series: pd.Series, name: str, precision: str) -> tuple[dict[str, Any], _Mapped]:
    from xunqin.normalizers.dates import parse_date

    m = _Mapped(series, parse_date)
    return {name: _dates(m.get(lambda d: d.midpoint())), precision: m.get(lambda d: d.precision)}, m


def _place_columns(series: pd.Series, prefix: str, province_col: str) -> tuple[dict[str, Any], _Mapped]:
    from xunqin.normalizers.places import parse_place, place_parser

    m = _Mapped(series, parse_place, parser_for=place_parser)

    def parts(p: Any) -> tuple[Any, ...]:
        cands = p.candidates
        first = cands[0] if cands else None
        return (_join([d.code for d in cands]), _join([d.province for d in cands]),
                None if first is None else first.lat, None if first is None else first.lon)

    codes, provinces, lat, lon = m.columns(parts, 4)
    return {
        f"{prefix}_place": _raw(series),
        f"{prefix}_codes": codes,
        province_col: provinces,
        f"{prefix}_lat": _floats(lat),
        f"{prefix}_lon": _floats(lon),
    }, m


def _hometown_columns(series: pd.Series) -> tuple[dict[str, Any], _Mapped]:
    from xunqin.normalizers.places import parse_place, place_parser

    m = _Mapped(series, parse_place, parser_for=place_parser)
    level, codes, prefectures, provinces = m.columns(lambda p: (
        p.level,
        # Only the candidates at the most specific level reached: a county hit outranks its province.
        _join([d.code for d in p.candidates if d.level == p.level]),
        _join([d.prefecture for d in p.candidates]),
        _join([d.province for d in p.candidates]),
    ), 4)
    return {
        "hometown": _raw(series),
        "hometown_level": level,
        "hometown_codes": codes,
        "hometown_prefectures": prefectures,
        "hometown_provinces": provinces,
    }, m


def _feature_columns(series: pd.Series) -> tuple[dict[str, Any], _Mapped]:
    from xunqin.normalizers.features import feature_parser, parse_features

    m = _Mapped(series, parse_features, parser_for=feature_parser)
    return {
        "features": _raw(series),
        "marks": m.get(lambda f: _join(f.marks)),
        "conditions": m.get(lambda f: _join(f.conditions)),
    }, m


def _id_columns(series: pd.Series, fragments_from: pd.Series | None) -> tuple[dict[str, Any], _Mapped]:
    from xunqin.normalizers.id_numbers import id_fragments, parse_id

    m = _Mapped(series, parse_id)
    out: dict[str, Any] = {
        "id_number": m.get(lambda i: i.number),
        "id_region": m.get(lambda i: i.region),
        "id_birth": _dates(m.get(lambda i: i.birth)),
        "id_gender": m.get(lambda i: i.gender),
    }
    if fragments_from is None:
        out["id_fragments"] = np.full(len(series), None, dtype=object)
    else:
        f = _Mapped(fragments_from, id_fragments)
        out["id_fragments"] = f.get(lambda frags: _join(f"{x.kind}:{x.digits}" for x in frags))
    return out, m


# --------------------------------------------------------------------------- cross-field checks


def _warn(rejects: _Rejects, mask: np.ndarray, source_row: np.ndarray, column: str, values: np.ndarray, reason: str) -> None:
    idx = np.nonzero(mask)[0]
    if len(idx):
        rejects.add(source_row[idx], column, values[idx], [reason] * len(idx), "warning")


def _check_id_gender(df: pd.DataFrame, rejects: _Rejects, source_row: np.ndarray) -> None:
    g = df["gender"].to_numpy(dtype=object)
    ig = df["id_gender"].to_numpy(dtype=object)
    mask = pd.notna(g) & pd.notna(ig) & (g != ig)
    shown = np.full(len(g), None, dtype=object)
    shown[mask] = [f"{a} (ID: {b})" for a, b in zip(g[mask], ig[mask])]
    _warn(rejects, mask, source_row, "gender", shown, "gender differs from the ID number's gender (both kept)")


def _check_required(df: pd.DataFrame, raw: RawTable, rejects: _Rejects, source_row: np.ndarray, column: str, out_col: str) -> None:
    values = raw.data[column].to_numpy(dtype=object)
    blank = _blank_cells(values)[1]
    _warn(rejects, blank & df[out_col].isna().to_numpy(), source_row, column, values, f"required value empty ({column})")


# --------------------------------------------------------------------------- the two kinds


def _finish(raw: RawTable, cols: dict[str, Any], order: tuple[str, ...], keep: np.ndarray) -> pd.DataFrame:
    # Every column holds one value per raw row, by position: filtered and typed as arrays, the
    # frame is built once (not re-assigned column by column).
    data: dict[str, np.ndarray] = {}
    every_row = bool(keep.all())
    held: set[int] = set()
    for c in order:
        v = cols[c]
        values = v.to_numpy() if isinstance(v, pd.Series) else np.asarray(v)
        if not every_row:
            values = values[keep]
        if c in FLOAT_COLUMNS:
            values = values.astype("float64")
        elif c in DATE_COLUMNS:
            values = values.astype("datetime64[ns]")
        elif c == "source_row":
            values = values.astype("int64")
        else:
            # None where missing already (the column helpers see to it once per distinct value;
            # looking at every cell here was 1.45 s of size M's 45 s ingest)
            values = values.astype(object, copy=False)
            if id(values) in held:  # one array in two columns: each column its own
                values = values.copy()
        held.add(id(values))
        data[c] = values
    # copy=False: one block per column, not consolidated (stacking the object columns into
    # one 2-D block copied every cell: 1.9 s of size M's ingest, and a second copy in memory)
    return pd.DataFrame(data, columns=list(order), copy=False)


_F = TypeVar("_F", bound=Callable[..., Any])


def _cycle_collector_paused(func: _F) -> _F:
    """Run ``func`` with Python's cyclic garbage collector paused (restored after, also on error).

    Normalizing keeps every parsed value alive in the parsers' caches, and the collector's
    passes, triggered by allocation counts, walk the whole heap. Measured (issue 15 asks for
    the figure; it keeps the pause above 10%) with ``python -m benchmarks.ingest --reports R50K
    --warm data/sample/reports.csv --gc-share`` on the first 50,000 rows of the M benchmark's
    reports, in a process holding the reference tables: 1,311 passes took 19% of the ingest's
    CPU time (1.41 s of 7.31 s; 6.47 s with the pause) and freed 43 objects. Reference counting
    still frees the rest at once. Left alone when already
    paused (a nested call, or someone else's pause): only the caller that paused it turns it
    back on.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper  # type: ignore[return-value]


def _start(raw: RawTable) -> tuple[_Rejects, dict[tuple[int, str], tuple[str, str]], np.ndarray, np.ndarray, np.ndarray]:
    rejects = _Rejects(raw.file)
    problems = {(p.row, p.column): (p.reason, p.value) for p in raw.problems if p.severity == "error"}
    keys, refused = _key(raw, rejects, problems)
    source_row = raw.source_row.to_numpy(dtype="int64")
    refused_rows = set(source_row[refused].tolist())
    for p in raw.problems:
        if p.row not in refused_rows:
            rejects.add([p.row], p.column, [p.value], [p.reason], p.severity)
    return rejects, problems, keys, refused, source_row


def _collect(rejects: _Rejects, source_row: np.ndarray, keep: np.ndarray, mapped: dict[str, _Mapped]) -> None:
    # Only rows that are kept report value problems: a refused row has its one refusal line.
    for column, m in mapped.items():
        m.reject_into(rejects, source_row, column, keep)


@_cycle_collector_paused
def _report_places(missing: pd.Series, hometown: pd.Series) -> tuple[tuple[dict[str, Any], _Mapped], ...]:
    """The missing-place and hometown columns of a reports table (or of its first rows, for the
    missing place: the second process's share)."""
    out = (_missing_place_columns(missing), _hometown_columns(hometown))
    return tuple((part, m.without_results()) for part, m in out)


def _missing_place_columns(series: pd.Series) -> tuple[dict[str, Any], _Mapped]:
    return _place_columns(series, "missing", "missing_province")


def _joined_places(first: tuple[dict[str, Any], _Mapped], second: tuple[dict[str, Any], _Mapped]
                   ) -> tuple[dict[str, Any], _Mapped]:
    """The columns of two row ranges of one column, in row order."""
    (a, ma), (b, mb) = first, (second[0], second[1].without_results())
    return {name: np.concatenate([a[name], b[name]]) for name in a}, _Mapped.concat(ma, mb)


@contextmanager
def _second_process(rows: int) -> Iterator[ProcessPoolExecutor | None]:
    """A one-worker process pool for a table of ``rows`` rows, or None when it would not pay or
    not be safe. The worker is forked (it starts at once, holding the reference tables already
    loaded), which is safe only in a process without other threads: in a Prefect run or the
    web server the table is normalized here alone (their files are a night's or an upload's)."""
    if rows < SECOND_PROCESS_ROWS or (os.cpu_count() or 1) < 2 or threading.active_count() > 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


# A reports file of at least this many bytes may hold SECOND_PROCESS_ROWS rows (CSV rows take
# 240 bytes at size M; a workbook's fewer).
SECOND_PROCESS_FILE_BYTES = SECOND_PROCESS_ROWS * 100


@contextmanager
def second_process_for(path: str | os.PathLike[str] | None) -> Iterator[ProcessPoolExecutor | None]:
    """The second process for the reports file at ``path``, forked before the file is read
    (None for a small file; :func:`normalize_reports` then decides by its rows). Forked later,
    it shared the pages of the table just read, and the allocations of its own work copied
    them: at M it held 0.85 GB of its own, forked first 0.27 GB. It loads the place tables
    while this process reads."""
    try:
        size = os.path.getsize(path) if path is not None else 0
    except OSError:
        size = 0  # the reader says what is wrong with the file
    with _second_process(SECOND_PROCESS_ROWS if size >= SECOND_PROCESS_FILE_BYTES else 0) as pool:
        if pool is not None:
            pool.submit(_warm_up)
        yield pool


def _warm_up() -> None:
    from xunqin.normalizers.places import parse_place

    parse_place("北京市朝阳区")


@_cycle_collector_paused
def normalize_stations(raw: RawTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Station records -> (normalized DataFrame, rejects DataFrame)."""
    from xunqin.normalizers.ages import parse_age
    from xunqin.normalizers.dialects import dialect_provinces
    from xunqin.normalizers.gender import parse_gender
    from xunqin.normalizers.heights import parse_height

    if raw.kind != "stations":
        raise ValueError("normalize_stations needs a stations table")
    rejects, _, keys, refused, source_row = _start(raw)
    d = raw.data
    cols: dict[str, Any] = {"source_file": np.full(len(d), raw.file, dtype=object), "source_row": source_row, "record_id": keys}
    cols["station"] = _text(d["station"])
    mapped: dict[str, _Mapped] = {}
    part, mapped["name"] = _name_columns(d["name"])
    cols.update(part)
    mapped["gender"] = _Mapped(d["gender"], parse_gender)
    cols["gender"] = mapped["gender"].get(lambda g: g)
    mapped["estimated_age"] = _Mapped(d["estimated_age"], parse_age)
    cols["age_low"] = _floats(mapped["estimated_age"].get(lambda a: a.low))
    cols["age_high"] = _floats(mapped["estimated_age"].get(lambda a: a.high))
    part, mapped["found_date"] = _date_columns(d["found_date"], "found_date", "found_date_precision")
    cols.update(part)
    part, mapped["found_place"] = _place_columns(d["found_place"], "found", "found_province")
    cols.update(part)
    part, mapped["hometown"] = _hometown_columns(d["hometown"])
    cols.update(part)
    mapped["dialect"] = _Mapped(d["dialect"], dialect_provinces)
    cols["dialect"] = _raw(d["dialect"])
    cols["dialect_provinces"] = mapped["dialect"].get(_join)
    mapped["height_cm"] = _Mapped(d["height_cm"], parse_height)
    cols["height_cm"] = _floats(mapped["height_cm"].get(lambda h: h))
    part, mapped["features"] = _feature_columns(d["features"])
    cols.update(part)
    part, mapped["id_number"] = _id_columns(d["id_number"], d["notes"])
    cols.update(part)
    cols["notes"] = _raw(d["notes"])
    keep = ~refused
    _collect(rejects, source_row, keep, mapped)

    df = _finish(raw, cols, STATION_OUTPUT, keep)
    kept_rows = source_row[keep]
    _check_required(df, _kept(raw, keep), rejects, kept_rows, "found_date", "found_date")
    _check_id_gender(df, rejects, kept_rows)
    # ID birth date against the staff's age estimate at the found date.
    age = (df["found_date"] - df["id_birth"]).dt.days.to_numpy(dtype=float) / DAYS_PER_YEAR
    low, high = df["age_low"].to_numpy(), df["age_high"].to_numpy()
    with np.errstate(invalid="ignore"):
        far = (age < low - AGE_SLACK_YEARS) | (age > high + AGE_SLACK_YEARS)
    shown = _kept(raw, keep).data["estimated_age"].to_numpy(dtype=object)
    _warn(rejects, far, kept_rows, "estimated_age", shown, "estimated age far from the age given by the ID number (both kept)")
    return df, _sorted(rejects.frame())


@_cycle_collector_paused
def normalize_reports(raw: RawTable, pool: ProcessPoolExecutor | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing-person reports -> (normalized DataFrame, rejects DataFrame); ``pool``: the
    second process of :func:`second_process_for`, else one is forked here if it pays."""
    if raw.kind != "reports":
        raise ValueError("normalize_reports needs a reports table")
    if len(raw.data) < SECOND_PROCESS_ROWS:
        return _normalize_reports(raw, None, 0)
    with contextlib.nullcontext(pool) if pool is not None else _second_process(len(raw.data)) as worker:
        if worker is None:
            return _normalize_reports(raw, None, 0)
        cut = int(len(raw.data) * SECOND_PROCESS_MISSING_SHARE)
        places = worker.submit(_report_places, raw.data["missing_place"].iloc[:cut], raw.data["hometown"])
        return _normalize_reports(raw, places, cut)


def _normalize_reports(raw: RawTable, places: Future | None, cut: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As :func:`normalize_reports`; ``places`` gives the place columns (else made here), of
    the missing place only its first ``cut`` rows."""
    from xunqin.normalizers.ages import parse_age_exact
    from xunqin.normalizers.gender import parse_gender
    from xunqin.normalizers.heights import parse_height
    from xunqin.normalizers.phones import parse_phones

    rejects, _, keys, refused, source_row = _start(raw)
    d = raw.data
    cols: dict[str, Any] = {"source_file": np.full(len(d), raw.file, dtype=object), "source_row": source_row, "report_id": keys}
    cols["source"] = _text(d["source"])
    mapped: dict[str, _Mapped | None] = {}
    part, mapped["name"] = _name_columns(d["name"])
    cols.update(part)
    part, mapped["aliases"] = _alias_columns(d["aliases"])
    cols.update(part)
    mapped["gender"] = _Mapped(d["gender"], parse_gender)
    cols["gender"] = mapped["gender"].get(lambda g: g)
    part, mapped["birth_date"] = _date_columns(d["birth_date"], "birth_date", "birth_precision")
    cols.update(part)
    birth = mapped["birth_date"]
    mapped["age_at_missing"] = _Mapped(d["age_at_missing"], parse_age_exact)
    cols["age_at_missing"] = _floats(mapped["age_at_missing"].get(lambda a: a))
    part, mapped["id_number"] = _id_columns(d["id_number"], None)
    cols.update(part)
    part, mapped["missing_date"] = _date_columns(d["missing_date"], "missing_date", "missing_date_precision")
    cols.update(part)
    mapped["missing_place"] = mapped["hometown"] = None  # their place in the rejects' column order
    mapped["height_cm"] = _Mapped(d["height_cm"], parse_height)
    cols["height_cm"] = _floats(mapped["height_cm"].get(lambda h: h))
    part, mapped["features"] = _feature_columns(d["features"])
    cols.update(part)
    mapped["contact_phone"] = _Mapped(d["contact_phone"], parse_phones, partial=lambda p: p.invalid)
    cols["contact_phone"] = mapped["contact_phone"].get(lambda p: _join(p.numbers))
    if places is None:
        missing, home = _report_places(d["missing_place"], d["hometown"])
    else:
        rest = _missing_place_columns(d["missing_place"].iloc[cut:])
        first, home = places.result()
        missing = _joined_places(first, rest)
    for column, (part, m) in (("missing_place", missing), ("hometown", home)):
        cols.update(part)
        mapped[column] = m
    keep = ~refused
    _collect(rejects, source_row, keep, mapped)  # type: ignore[arg-type]

    df = _finish(raw, cols, REPORT_OUTPUT, keep)
    kept = _kept(raw, keep)
    kept_rows = source_row[keep]
    _check_required(df, kept, rejects, kept_rows, "missing_date", "missing_date")
    name_empty = (df["name_kind"] == "empty").to_numpy() & _blank_cells(kept.data["name"].to_numpy(dtype=object))[1]
    _warn(rejects, name_empty, kept_rows, "name", kept.data["name"].to_numpy(dtype=object), "required value empty (name)")
    _check_id_gender(df, rejects, kept_rows)
    # ID birth date against birth_date, compared only as precisely as birth_date is known.
    year = _floats(birth.get(lambda b: b.year))[keep]
    month = _floats(birth.get(lambda b: b.month))[keep]
    day = _floats(birth.get(lambda b: b.day))[keep]
    idb = df["id_birth"]
    iy, im, iday = (idb.dt.year.to_numpy(dtype=float), idb.dt.month.to_numpy(dtype=float), idb.dt.day.to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        differ = (~np.isnan(year) & ~np.isnan(iy)) & (
            (year != iy) | (~np.isnan(month) & (month != im)) | (~np.isnan(day) & (day != iday))
        )
    shown = kept.data["birth_date"].to_numpy(dtype=object)
    _warn(rejects, differ, kept_rows, "birth_date", shown, "birth date differs from the ID number's birth date (both kept)")
    # Stated age at missing against birth and missing dates.
    born = df["birth_date"].where(df["birth_date"].notna(), df["id_birth"])
    years = (df["missing_date"] - born).dt.days.to_numpy(dtype=float) / DAYS_PER_YEAR
    stated = df["age_at_missing"].to_numpy()
    with np.errstate(invalid="ignore"):
        off = np.abs(years - stated) > AGE_AT_MISSING_SLACK
        before = years < -1  # missing a year or more before birth (year-precision dates overlap)
    shown = kept.data["age_at_missing"].to_numpy(dtype=object)
    _warn(rejects, off & ~before, kept_rows, "age_at_missing", shown, "age at missing disagrees with birth and missing dates (both kept)")
    shown = kept.data["missing_date"].to_numpy(dtype=object)
    _warn(rejects, before, kept_rows, "missing_date", shown, "missing date before the birth date (both kept)")
    return df, _sorted(rejects.frame())


def _kept(raw: RawTable, keep: np.ndarray) -> RawTable:
    return RawTable(
        file=raw.file, kind=raw.kind, data=raw.data.loc[keep].reset_index(drop=True),
        source_row=raw.source_row.loc[keep].reset_index(drop=True), ignored_columns=raw.ignored_columns,
        problems=(), blank_rows=raw.blank_rows,
    )


def _sorted(rejects: pd.DataFrame) -> pd.DataFrame:
    return rejects.sort_values(["row"], kind="stable").reset_index(drop=True)
