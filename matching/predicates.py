"""Vectorized level conditions, named so that the settings can refer to them.

Every predicate takes the prepared sides, the pair index arrays (station rows ``i``, report rows
``j``) and the level's params, and returns a boolean array over the pairs. Predicates are only
evaluated on the pairs that no earlier level of the same comparison has claimed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from .codes import Slots, overlaps, overlaps_in_slots, slots, unique_ints
from .features import DAYS_PER_YEAR, Side


@dataclass(frozen=True)
class Context:
    stations: Side
    reports: Side
    vocab_strings: np.ndarray  # code -> string
    # Tables per record (a field's slots, places as unit vectors, spaceless readings) pay when
    # many more pairs than records are compared (a shard of a full match); a night's pairs,
    # about one per record, are compared on the values they gather: the same levels either way
    per_record_tables: bool = True
    # those tables, made on first use
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def overlaps(self, station_field: str, report_field: str, i, j) -> np.ndarray:
        a, b = self.stations.multi[station_field], self.reports.multi[report_field]
        if not self.per_record_tables:
            return overlaps(a, b, i, j)
        return overlaps_in_slots(a, self._slots_of("stations", station_field, a), b,
                                 self._slots_of("reports", report_field, b), i, j)

    def _slots_of(self, side: str, name: str, values) -> Slots:
        return self.per_record(("slots", side, name), lambda: slots(values, -1 if side == "stations" else -2))

    def per_record(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        """``make()``, once per ``key`` (values per record that every chunk of pairs gathers
        from; chunks run on threads, so it is made under the lock)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]


Predicate = Callable[[Context, np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]


def _multi_missing(ctx: Context, i, j, p) -> np.ndarray:
    a = ctx.stations.multi[p["station"]].has_any()[i]
    b = ctx.reports.multi[p["report"]].has_any()[j]
    return ~(a & b)


def _overlap(ctx: Context, i, j, p) -> np.ndarray:
    kinds = p.get("station_kinds")
    if not kinds:
        return ctx.overlaps(p["station"], p["report"], i, j)
    # only the pairs of station records of those kinds are looked at (the kinds per record, not
    # per pair: a string test per pair cost more than the overlap)
    result = np.zeros(len(i), dtype=bool)
    mine = np.flatnonzero(np.isin(ctx.stations.values["name_kind"], kinds)[i])
    result[mine] = ctx.overlaps(p["station"], p["report"], i[mine], j[mine])
    return result


def _name_missing(ctx: Context, i, j, p) -> np.ndarray:
    return ctx.stations.values["name_null"][i] | ctx.reports.values["name_null"][j]


def _pinyin_similarity(ctx: Context, i, j, p) -> np.ndarray:
    """Jaro-Winkler on the first (most likely) reading of both full names, spaces removed."""
    field = f'{p.get("field", "name_pinyin")}_first'
    a = ctx.stations.values[field][i]
    b = ctx.reports.values[field][j]
    ok = (a >= 0) & (b >= 0)
    out = np.zeros(len(i), dtype=bool)
    if not ok.any():
        return out
    # score each distinct (a, b) code pair once: many pairs repeat the same two names
    span = np.int64(len(ctx.vocab_strings))
    keys = a[ok] * span + b[ok]
    distinct = unique_ints(keys)
    inverse = np.searchsorted(distinct, keys)
    left = _without_spaces(ctx, "stations", field)(distinct // span)
    right = _without_spaces(ctx, "reports", field)(distinct % span)
    sims = process.cpdist(left, right, scorer=JaroWinkler.normalized_similarity, workers=-1)
    out[ok] = sims[inverse] >= float(p["min"])
    return out


def _without_spaces(ctx: Context, side: str, field: str) -> Callable[[np.ndarray], list[str]]:
    """codes -> their strings with spaces removed; with tables per record, each distinct code
    of one side's field is worked out once, not once per chunk of pairs."""
    strings = ctx.vocab_strings
    if not ctx.per_record_tables:
        def each(wanted: np.ndarray) -> list[str]:
            distinct, inverse = np.unique(wanted, return_inverse=True)
            table = np.array([strings[c].replace(" ", "") for c in distinct.tolist()], dtype=object)
            return table[inverse].tolist()
        return each

    def make() -> tuple[np.ndarray, np.ndarray]:
        codes = np.unique(getattr(ctx, side).values[field])
        codes = codes[codes >= 0]
        return codes, np.array([strings[c].replace(" ", "") for c in codes.tolist()], dtype=object)

    codes, table = ctx.per_record(("without_spaces", side, field), make)
    return lambda wanted: table[np.searchsorted(codes, wanted)].tolist()


def _gender_missing(ctx: Context, i, j, p) -> np.ndarray:
    return (ctx.stations.values["gender"][i] == 0) | (ctx.reports.values["gender"][j] == 0)


def _gender_equal(ctx: Context, i, j, p) -> np.ndarray:
    return ctx.stations.values["gender"][i] == ctx.reports.values["gender"][j]


def age_gap_years(ctx: Context, i, j) -> np.ndarray:
    """Years between the report's age at the found date and the station's estimate interval."""
    st, rp = ctx.stations.values, ctx.reports.values
    found_year = 1970 + st["found_day"][i] / DAYS_PER_YEAR
    age = found_year - rp["birth_year"][j]
    gap = np.maximum(np.maximum(st["age_low"][i] - age, age - st["age_high"][i]), 0.0)
    return np.maximum(gap - rp["birth_uncertainty"][j], 0.0), age


def _age_missing(ctx: Context, i, j, p) -> np.ndarray:
    st, rp = ctx.stations.values, ctx.reports.values
    return (
        np.isnan(st["age_low"][i])
        | np.isnan(st["found_day"][i])
        | np.isnan(rp["birth_year"][j])
    )


def _age_within(ctx: Context, i, j, p) -> np.ndarray:
    """Within ``years`` plus ``share`` of the age: estimates of older people err more."""
    gap, age = age_gap_years(ctx, i, j)
    return gap <= float(p.get("years", 0)) + float(p.get("share", 0)) * np.abs(age)


def _dates_missing(ctx: Context, i, j, p) -> np.ndarray:
    return np.isnan(ctx.stations.values["found_day"][i]) | np.isnan(
        ctx.reports.values["missing_day"][j]
    )


def _found_before_missing(ctx: Context, i, j, p) -> np.ndarray:
    found = ctx.stations.values["found_day"][i]
    missing = ctx.reports.values["missing_day"][j]
    return found < missing - float(p.get("days", 0))


def _elapsed_within(ctx: Context, i, j, p) -> np.ndarray:
    """Found within ``days`` of going missing: most people are found soon, some after decades."""
    found = ctx.stations.values["found_day"][i]
    missing = ctx.reports.values["missing_day"][j]
    return found - missing <= float(p["days"])


EARTH_KM = 6371.0


def _unit_vectors(side: Side, prefix: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Places (of ``rows``, else every record) as points (x, y, z) on the unit sphere; nan
    where there is none."""
    lat, lon = side.values[prefix + "_lat"], side.values[prefix + "_lon"]
    if rows is not None:
        lat, lon = lat[rows], lon[rows]
    lat, lon = np.radians(lat), np.radians(lon)
    return np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)


def _pair_places(ctx: Context, i, j, p) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The unit vectors of both places of every pair (the same numbers with or without tables
    per record: the same operations on the same values)."""
    station, report = p["station"], p["report"]
    if not ctx.per_record_tables:
        return _unit_vectors(ctx.stations, station, i), _unit_vectors(ctx.reports, report, j)
    a = ctx.per_record(("unit", "stations", station), lambda: _unit_vectors(ctx.stations, station))
    b = ctx.per_record(("unit", "reports", report), lambda: _unit_vectors(ctx.reports, report))
    return tuple(v[i] for v in a), tuple(v[j] for v in b)


def _distance_missing(ctx: Context, i, j, p) -> np.ndarray:
    station, report = p["station"], p["report"]
    return (np.isnan(ctx.stations.values[station + "_lat"][i]) | np.isnan(ctx.stations.values[station + "_lon"][i])
            | np.isnan(ctx.reports.values[report + "_lat"][j]) | np.isnan(ctx.reports.values[report + "_lon"][j]))


def _distance_within(ctx: Context, i, j, p) -> np.ndarray:
    # d <= km  <=>  the haversine term sin^2(d / 2R) = (1 - cos(d / R)) / 2 <= sin^2(km / 2R),
    # and cos(d / R) is the dot product of the unit vectors: three products per pair and no
    # sine (the sines per pair were a seventh of comparing at size M)
    limit = np.sin(min(float(p["km"]) / (2 * EARTH_KM), np.pi / 2)) ** 2
    a, b = _pair_places(ctx, i, j, p)
    dot = a[0] * b[0]
    dot += a[1] * b[1]
    dot += a[2] * b[2]
    return dot >= 1 - 2 * limit


def _height_missing(ctx: Context, i, j, p) -> np.ndarray:
    """Missing, or a child at the time who has had years to grow."""
    st, rp = ctx.stations.values, ctx.reports.values
    missing = np.isnan(st["height"][i]) | np.isnan(rp["height"][j])
    elapsed = (st["found_day"][i] - rp["missing_day"][j]) / DAYS_PER_YEAR
    child = (rp["age_at_missing"][j] < float(p.get("child_age", 18))) & ~(
        elapsed < float(p.get("grow_years", 1))
    )
    return missing | child


def _height_within(ctx: Context, i, j, p) -> np.ndarray:
    return np.abs(ctx.stations.values["height"][i] - ctx.reports.values["height"][j]) <= float(
        p["cm"]
    )


def _id_missing(ctx: Context, i, j, p) -> np.ndarray:
    station_has = (ctx.stations.values["id_number"][i] >= 0) | ctx.stations.multi[
        "id_tail"
    ].has_any()[i]
    return ~station_has | (ctx.reports.values["id_number"][j] < 0)


def _id_equal(ctx: Context, i, j, p) -> np.ndarray:
    a = ctx.stations.values["id_number"][i]
    return (a >= 0) & (a == ctx.reports.values["id_number"][j])


def _id_both_full(ctx: Context, i, j, p) -> np.ndarray:
    return (ctx.stations.values["id_number"][i] >= 0) & (ctx.reports.values["id_number"][j] >= 0)


PREDICATES: dict[str, Predicate] = {
    "multi_missing": _multi_missing,
    "overlap": _overlap,
    "name_missing": _name_missing,
    "pinyin_similarity": _pinyin_similarity,
    "gender_missing": _gender_missing,
    "gender_equal": _gender_equal,
    "age_missing": _age_missing,
    "age_within": _age_within,
    "dates_missing": _dates_missing,
    "found_before_missing": _found_before_missing,
    "elapsed_within": _elapsed_within,
    "distance_missing": _distance_missing,
    "distance_within": _distance_within,
    "height_missing": _height_missing,
    "height_within": _height_within,
    "id_missing": _id_missing,
    "id_equal": _id_equal,
    "id_both_full": _id_both_full,
}
