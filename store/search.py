"""The search-key index: finding station records and reports by name, sound, ID, number, place, date.

Every current record version has rows ``(key_type, key, kind, record_id)`` in ``search_keys``:

========  ===================================================================================
name      the name as cleaned by the name normalizer (王秀英), and a report's aliases
sound     the dialect-folded pinyin of the full name (and of an alias): 刘德华 and 牛德华 share it
given     the dialect-folded pinyin of the given name: 吴春花 and 胡春花 share ``cun fa``
id        the full 18-character ID number
tail      its last four characters, and a tail staff noted down (自述身份证尾号1234)
place     every candidate division code of the hometown and of the found / missing place
date      the found date (station records) or the missing date (reports), ISO
station   the station (station records)
========  ===================================================================================

The keys come from the normalized columns the matcher itself uses (``name_folded``,
``given_folded`` ... from :mod:`xunqin.normalizers`), so the search hears a name as the matcher
does. :func:`catch_up` indexes the versions stored since it last ran (the ingest calls it in
the transaction that stores a file); :func:`find` answers a query with index lookups only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from xunqin.matching.codes import text_values

from . import db, records, workstation
from .frames import chunks, records_from_columns
from .models import Report, SearchKey, StationRecord

KINDS = ("stations", "reports")
KEY_TYPES = ("name", "sound", "given", "id", "tail", "place", "date", "station")
PROGRESS_KEY = "search_index_{kind}"  # workstation row: the highest row id indexed
INSERT_BATCH = 100_000
INSERT_CACHE_KIB = 65_536  # SQLite's page cache while keys are inserted (see _insert)
INSERT_COLUMNS = ("kind", "record_id", "key_type", "key")
_SQLITE_INSERT = 'INSERT INTO search_keys (kind, record_id, key_type, "key") VALUES (?, ?, ?, ?)'
NAME_LEVELS = ("name", "sound", "given")  # best first
RANK_POOL = 4  # rows fetched per row shown, ordered by sound closeness in Python
COUNT_CAP = 500  # a search counts this far ("500 条以上"), then asks for more criteria
KEY_MAX = 200
NO_NAME_KINDS = ("placeholder", "empty")
_DIGITS = re.compile(r"^[0-9]{4,17}[0-9Xx]?$")


# --------------------------------------------------------------------------- keys


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return pd.Series(text_values(frame[column]), index=frame.index, dtype=object)


def _tails(frame: pd.DataFrame) -> pd.Series:
    """Last four characters of the ID number and of the tail/full fragments of the notes."""
    from xunqin.normalizers.id_numbers import id_tails

    number, fragments = _text(frame, "id_number"), _text(frame, "id_fragments")
    return pd.Series([id_tails(n, f) for n, f in zip(number.tolist(), fragments.tolist())],
                     index=frame.index, dtype=object)


def record_keys(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Search keys of normalized rows (ingest's table, or the stored one): kind, record_id,
    key_type, key; one row per distinct key of a record (a '|'-separated value is a key each)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    ids = frame["record_id" if kind == "stations" else "report_id"].astype(str).tolist()
    named = ~_text(frame, "name_kind").isin(NO_NAME_KINDS)
    id_number = _text(frame, "id_number")
    columns = [
        ("name", _text(frame, "name_clean").where(named, "")),
        ("sound", _text(frame, "name_folded")),
        ("given", _text(frame, "given_folded")),
        ("id", id_number.where(id_number.str.len() >= 15, "")),
        ("tail", _tails(frame)),
        ("place", _text(frame, "hometown_codes")),
        ("place", _text(frame, "found_codes" if kind == "stations" else "missing_codes")),
        ("date", _dates(frame, "found_date" if kind == "stations" else "missing_date")),
    ]
    if kind == "stations":
        columns.append(("station", _text(frame, "station")))
    else:
        columns += [("name", _text(frame, "alias_clean")), ("sound", _text(frame, "alias_folded"))]
    # plain loops over a night's few thousand rows: pandas' split, explode and de-duplication
    # took 0.11 s of 5,000 reports, these 0.04 s
    keys: dict[tuple[str, str, str], None] = {}
    for key_type, values in columns:
        for record_id, value in zip(ids, values.tolist()):
            if value:
                for key in value.split("|"):
                    if key:
                        keys[(record_id, key_type, key[:KEY_MAX])] = None
    out = pd.DataFrame(list(keys), columns=["record_id", "key_type", "key"], dtype=object)
    out.insert(0, "kind", kind)
    return out


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    values = pd.to_datetime(frame[column], errors="coerce")
    return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), "")


# --------------------------------------------------------------------------- index upkeep


def _progress(session: Session, kind: str) -> int:
    return int(workstation.get_value(session, PROGRESS_KEY.format(kind=kind)) or 0)


def lag(session: Session) -> int:
    """Record versions stored but not indexed yet (0: the index is current)."""
    return sum(max(0, records.max_row_id(session, kind) - _progress(session, kind)) for kind in KINDS)


def _insert(session: Session, keys: pd.DataFrame) -> None:
    """The keys in index order: each lands next to the one before."""
    keys = keys.sort_values(["key_type", "key", "kind", "record_id"], kind="stable")
    connection = session.connection()
    columns = [keys[c].tolist() for c in INSERT_COLUMNS]
    if connection.dialect.name == "sqlite":
        # sqlite3's own executemany, and a page cache that holds the index pages the keys land
        # on. At size M a night's 40,000 keys touch about 25,000 pages of the 4-million-key
        # index: through SQLAlchemy with SQLite's 2 MiB cache the insert took 0.44-0.67 s,
        # so 0.25-0.29 s (measured on the database python -m benchmarks.incremental --size M
        # leaves, before the commit, which writes the same pages either way).
        with db.sqlite_page_cache(connection, INSERT_CACHE_KIB):
            connection.exec_driver_sql(_SQLITE_INSERT, list(zip(*columns)))
        return
    # elsewhere Core's executemany, which batches rows into multi-row statements
    rows = records_from_columns(dict(zip(INSERT_COLUMNS, columns)))
    for start in range(0, len(rows), INSERT_BATCH):
        connection.execute(SearchKey.__table__.insert(), rows[start:start + INSERT_BATCH])


@dataclass(frozen=True)
class Stored:
    """The normalized rows of ``kind`` this transaction has just stored as new versions (what
    :func:`records.add_records` stored: ``frame.iloc[list(outcome.stored_rows)]``)."""

    kind: str
    frame: pd.DataFrame


def catch_up(session: Session, stored: Stored | None = None) -> dict[str, int]:
    """Index the record versions stored since the last call (caller commits); counts per kind.

    A record with a new version loses the keys of the old one. Runs inside the transaction that
    stored the versions, so the index never lags behind what a search can see. ``stored``: when
    the versions to index are exactly those rows (the index was current before them), their
    keys come from that table, not from the stored versions read back (0.2 s of a night's
    5,000 reports at size M).
    """
    done: dict[str, int] = {}
    for kind in KINDS:
        after = _progress(session, kind)
        top = records.max_row_id(session, kind)
        if top <= after:
            done[kind] = 0
            continue
        # the rows just stored have row ids after every row before them: when as many ids
        # follow the indexed ones as rows were stored, those ids are theirs
        if stored is not None and stored.kind == kind and top - after == len(stored.frame):
            frame = stored.frame
        else:
            frame = records.load_versions(session, kind, after_id=after, up_to=top).frame
        ids = frame[records.KEY[kind]].astype(str).tolist()
        if after == 0:
            session.execute(sa.delete(SearchKey).where(SearchKey.kind == kind))
        else:
            for chunk in chunks(ids):
                session.execute(sa.delete(SearchKey).where(SearchKey.kind == kind, SearchKey.record_id.in_(chunk)))
        if len(ids):
            _insert(session, record_keys(kind, frame))
        workstation.set_value(session, PROGRESS_KEY.format(kind=kind), str(top))
        done[kind] = len(ids)
    return done


def catch_up_if_small(session: Session, limit: int) -> int:
    """Catch up when no more than ``limit`` versions wait (commits); the lag left (0: current)."""
    behind = lag(session)
    if 0 < behind <= limit:
        catch_up(session)
        session.commit()
        return 0
    return behind


def rebuild(session: Session) -> dict[str, int]:
    """Index every current version afresh (caller commits)."""
    for kind in KINDS:
        workstation.set_value(session, PROGRESS_KEY.format(kind=kind), "0")
    return catch_up(session)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """What a person typed; empty fields are not criteria. ``kinds`` and ``station`` are the
    reader's reach (station staff: their station's records only)."""

    name: str = ""
    id_text: str = ""
    number: str = ""
    place: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kinds: tuple[str, ...] = KINDS
    station: str | None = None

    def criteria(self) -> list[str]:
        """Names of the criteria given (for the audit log: which, never what)."""
        return [k for k, v in (("name", self.name), ("id_number", self.id_text), ("number", self.number),
                                ("place", self.place), ("date_from", self.date_from), ("date_to", self.date_to)) if v]


class QueryError(ValueError):
    """A query that cannot be answered; the message is for the person who typed it (Chinese)."""


@dataclass(frozen=True)
class Hit:
    kind: str
    record_id: str
    level: int  # 0 name as written, 1 same sound, 2 given name sounds alike, 3 not searched by name
    raw: dict[str, Any]
    normalized: dict[str, Any]


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    total: int  # COUNT_CAP when ``capped``: at least that many
    notes: list[str] = field(default_factory=list)  # how the query was read, in Chinese
    capped: bool = False


@dataclass(frozen=True)
class _Criterion:
    """One criterion other than the name: a key type and a condition on the key (``key_type``
    None: the record number, looked up in the record tables)."""

    key_type: str | None
    condition: Callable[[Any], Any]

    def rows(self, query: Query) -> sa.Select:
        """(kind, record_id) of the records meeting it (when it drives the query)."""
        if self.key_type is None:
            parts = []
            if "stations" in query.kinds:
                parts.append(sa.select(sa.literal("stations").label("kind"), StationRecord.record_id.label("record_id"))
                             .where(self.condition(StationRecord.record_id), StationRecord.is_current))
            if "reports" in query.kinds:
                parts.append(sa.select(sa.literal("reports").label("kind"), Report.report_id.label("record_id"))
                             .where(self.condition(Report.report_id), Report.is_current))
            return sa.union_all(*parts).subquery().select() if len(parts) > 1 else parts[0]
        t = SearchKey.__table__.alias()
        where = (t.c.key_type == self.key_type, t.c.kind.in_(query.kinds), self.condition(t.c.key))
        if self.key_type == "date":  # one date per record: no duplicates, and the key sorts the page
            return sa.select(t.c.kind, t.c.record_id, t.c.key.label("sort_key")).where(*where)
        return sa.select(t.c.kind, t.c.record_id).where(*where).distinct()

    def holds(self, kind: Any, record_id: Any) -> Any:
        """The criterion as a filter on (kind, record_id) columns (an EXISTS on the record's keys)."""
        if self.key_type is None:
            return self.condition(record_id)
        t = SearchKey.__table__.alias()
        return sa.exists().where(t.c.kind == kind, t.c.record_id == record_id, t.c.key_type == self.key_type,
                                 self.condition(t.c.key))

    def size(self, session: Session, query: Query) -> int:
        """Key rows meeting it: how selective it is (to pick the one that drives the query)."""
        if self.key_type is None:
            return 0
        t = SearchKey.__table__
        return int(session.scalar(sa.select(sa.func.count()).select_from(t).where(
            t.c.key_type == self.key_type, t.c.kind.in_(query.kinds), self.condition(t.c.key))) or 0)


def _level_select(query: Query, key_type: str, condition: Any) -> sa.Select:
    return sa.select(SearchKey.kind, SearchKey.record_id).where(
        SearchKey.key_type == key_type, SearchKey.kind.in_(query.kinds), condition)


def _name_parts(text: str) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    """(clean name, folded full keys, folded given keys, kind) of a typed name."""
    from xunqin.normalizers.names import parse_name

    p = parse_name(text)
    given = p.given_folded if p.given else ()
    return (p.clean if p.kind not in NO_NAME_KINDS else ""), p.folded, given, p.kind


def _place_ranges(text: str) -> tuple[list[tuple[str, str]], str]:
    """Code prefixes as [low, high) ranges for every division the place text may denote."""
    from xunqin.normalizers.places import parse_place

    place = parse_place(text)
    if place is None or not place.candidates:
        raise QueryError(f"没有认出地点“{text}”：请写省、市或县的名称，如 河南、周口、商水县")
    ranges = []
    for d in place.candidates:
        prefix = d.code[:2] if d.level == "province" else d.code[:4] if d.level == "prefecture" else d.code
        ranges.append((prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)))
    return ranges, "、".join(d.name for d in place.candidates)


def _criteria(query: Query, notes: list[str]) -> list[_Criterion]:
    """The criteria other than the name."""
    out: list[_Criterion] = []
    if query.number:
        number = query.number.strip()[:KEY_MAX]
        out.append(_Criterion(None, lambda column: column == number))
    if query.station:
        station = query.station
        out.append(_Criterion("station", lambda key: key == station))
    if query.id_text:
        digits = re.sub(r"[\s-]", "", query.id_text).upper()
        if len(digits) in (15, 18) and digits[:-1].isdigit():
            out.append(_Criterion("id", lambda key: key == digits))
        elif _DIGITS.match(digits):
            out.append(_Criterion("tail", lambda key: key == digits[-4:]))
            if len(digits) > 4:
                notes.append(f"按尾号 {digits[-4:]} 查找，再核对后 {len(digits)} 位")
        else:
            raise QueryError("身份证号请写完整的 18 位，或至少写最后 4 位")
    if query.place:
        ranges, names = _place_ranges(query.place.strip())
        notes.append(f"地点按“{names}”查找（籍贯、户籍及发现、走失地点）")
        out.append(_Criterion("place", lambda key: sa.or_(*(sa.and_(key >= lo, key < hi) for lo, hi in ranges))))
    if query.date_from or query.date_to:
        if query.date_from and query.date_to and query.date_to < query.date_from:
            raise QueryError("结束日期早于开始日期")
        low = query.date_from.isoformat() if query.date_from else None
        high = query.date_to.isoformat() if query.date_to else None
        out.append(_Criterion("date", lambda key: sa.and_(*([key >= low] if low else []), *([key <= high] if high else []))))
    return out


def _named(query: Query) -> list[tuple[int, sa.Select]]:
    """(level, select of kind and record_id) for each way the typed name can meet a record's,
    best first: as written, same sound, same given-name sound."""
    clean, folded, given, kind = _name_parts(query.name)
    if kind == "surname_only":  # 王某: every 王 in the province is no answer
        raise QueryError("只有姓氏无法查找：请写出名字，或改用其他条件")
    levels = []
    if clean:
        levels.append((0, _level_select(query, "name", SearchKey.key == clean)))
    if folded:
        levels.append((1, _level_select(query, "sound", SearchKey.key.in_(folded))))
    if given:
        levels.append((2, _level_select(query, "given", SearchKey.key.in_(given))))
    if not levels:
        raise QueryError(f"“{query.name}”不像是姓名，请换一种写法")
    return levels


def find(session: Session, query: Query, limit: int = 50) -> Found:
    """Records meeting every criterion; by name level (as written, same sound, given name alike),
    then newest date first. QueryError for a query that cannot be read.

    One part drives the query (the name when given, else the most selective criterion) and the
    others filter its rows through EXISTS on each record's keys: joining two large key sets
    (a province and a year) cost seconds where probing a few keys per row costs milliseconds.
    The count stops at :data:`COUNT_CAP`.
    """
    notes: list[str] = []
    if not query.criteria():
        raise QueryError("请至少填写一项：姓名、身份证号、编号、地点或日期")
    others = _criteria(query, notes)
    capped = False
    if query.name.strip():
        # level by level, each counted only to the cap: 秀英 as a given name alone meets tens of
        # thousands of reports, which no page shows
        best: dict[tuple[str, str], int] = {}
        for level, select in _named(query):
            sub = select.subquery()
            found_here = session.execute(sa.select(sub.c.kind, sub.c.record_id).where(
                *(c.holds(sub.c.kind, sub.c.record_id) for c in others)).limit(COUNT_CAP + 1)).all()
            for kind, rid in found_here:
                best.setdefault((kind, rid), level)
            if len(best) > COUNT_CAP or len(found_here) > COUNT_CAP:
                capped = True
                break
        rows = sorted(((kind, rid, level) for (kind, rid), level in best.items()),
                      key=lambda r: (r[2], r[0] != "stations", r[1]))[:COUNT_CAP]
        total = len(rows)
    else:
        others.sort(key=lambda c: c.size(session, query))
        first = others[0].rows(query).subquery()
        ranked = sa.select(first.c.kind, first.c.record_id, sa.literal(3).label("level")).where(
            *(c.holds(first.c.kind, first.c.record_id) for c in others[1:]))
        if "sort_key" in first.c:  # driven by the date: newest first, straight from the index
            ranked = ranked.order_by(first.c.sort_key.desc())
        # without a name every record is as good as the next: counting stops at the cap, so a
        # province and a year cost what the first COUNT_CAP matches cost
        rows = session.execute(ranked.limit(COUNT_CAP + 1)).all()
        capped = len(rows) > COUNT_CAP
        rows = rows[:COUNT_CAP]
        total = len(rows)
    rows = rows[:limit * RANK_POOL]
    hits = _load(session, rows)
    if query.id_text:
        hits = _check_tail(hits, query.id_text, notes)
    heard = _name_parts(query.name)[1] if query.name.strip() else ()
    hits.sort(key=lambda h: (h.level, -_sound_closeness(heard, h), _day_of(h), h.kind != "stations"))
    return Found(hits[:limit], total, notes, capped)


def _sound_closeness(heard: tuple[str, ...], hit: Hit) -> float:
    """How close the record's folded name sounds to the typed one (0..100): within a level, 胡春花
    comes before 苑春华 for 吴春花."""
    if not heard:
        return 0.0
    from rapidfuzz import fuzz

    mine = [k for k in str(hit.normalized.get("name_folded") or "").split("|") if k]
    return max((fuzz.ratio(a, b) for a in heard for b in mine), default=0.0)


def _day_of(hit: Hit) -> float:
    """Sort key: newest found / missing date first."""
    text = hit.normalized.get("found_date" if hit.kind == "stations" else "missing_date")
    try:
        return -dt.date.fromisoformat(str(text)[:10]).toordinal()
    except ValueError:
        return 0.0


def _check_tail(hits: list[Hit], id_text: str, notes: list[str]) -> list[Hit]:
    digits = re.sub(r"[\s-]", "", id_text).upper()
    if len(digits) <= 4 or len(digits) in (15, 18):
        return hits
    kept = []
    for h in hits:
        values = [str(h.normalized.get("id_number") or "")] + [
            f.partition(":")[2] for f in str(h.normalized.get("id_fragments") or "").split("|") if f]
        if any(v.upper().endswith(digits) or (len(v) < len(digits) and digits.endswith(v.upper()) and len(v) >= 4) for v in values):
            kept.append(h)
    return kept


def _load(session: Session, rows: Sequence[Any]) -> list[Hit]:
    """The current versions behind (kind, record_id, level) rows, in that order."""
    wanted: dict[str, list[str]] = {"stations": [], "reports": []}
    for kind, rid, _ in rows:
        wanted[kind].append(rid)
    found: dict[tuple[str, str], tuple[dict, dict]] = {}
    for kind, model, key in (("stations", StationRecord, StationRecord.record_id), ("reports", Report, Report.report_id)):
        for chunk in chunks(wanted[kind]):
            for rid, raw, norm in session.execute(sa.select(key, sa.cast(model.raw, sa.Text), sa.cast(model.normalized, sa.Text))
                                                  .where(key.in_(chunk), model.is_current)):
                found[(kind, rid)] = (json.loads(raw or "{}"), json.loads(norm or "{}"))
    out = []
    for kind, rid, level in rows:
        if (kind, rid) in found:
            raw, norm = found[(kind, rid)]
            out.append(Hit(kind, rid, int(level), raw, norm))
    return out


def report_name_counts(session: Session, names: Sequence[str]) -> dict[str, int]:
    """How many current reports hold each of these names (or aliases): the term frequencies
    the night weighs an agreeing name with."""
    names = [n for n in dict.fromkeys(names) if n]
    if not names:
        return {}
    rows = session.execute(sa.select(SearchKey.key, sa.func.count()).where(
        SearchKey.key_type == "name", SearchKey.kind == "reports", SearchKey.key.in_(names)).group_by(SearchKey.key))
    counts = {k: int(n) for k, n in rows}
    return {n: counts.get(n, 0) for n in names}


def station_of_records(session: Session, record_ids: Sequence[str]) -> dict[str, str]:
    """record id -> station, from the index."""
    out: dict[str, str] = {}
    for chunk in chunks(list(dict.fromkeys(record_ids))):
        out.update(session.execute(sa.select(SearchKey.record_id, SearchKey.key).where(
            SearchKey.key_type == "station", SearchKey.kind == "stations", SearchKey.record_id.in_(chunk))).all())
    return out


def counts_by_station(session: Session) -> dict[str, int]:
    """Current station records per station (from the index)."""
    rows = session.execute(sa.select(SearchKey.key, sa.func.count()).where(
        SearchKey.key_type == "station", SearchKey.kind == "stations").group_by(SearchKey.key))
    return {k: int(n) for k, n in rows}


def found_dates(session: Session) -> dict[str, str]:
    """Station record id -> found date (ISO), from the index."""
    return dict(session.execute(sa.select(SearchKey.record_id, SearchKey.key).where(
        SearchKey.key_type == "date", SearchKey.kind == "stations")).all())
