"""Source files and record versions (station records and reports).

Every function takes an open ``Session`` and does not commit: the caller owns the transaction,
so a file's records, or a night's candidates plus the "matched" marks, land together or not at
all (that is what makes a killed run safe to run again). Nothing here logs personal data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import audit_log
from .frames import chunks, frame_from_json_texts, jsonable_frame, records_from_columns
from .models import Reject, Report, SourceFile, StationRecord, utcnow

KEY = {"stations": "record_id", "reports": "report_id"}
TABLE: dict[str, type[StationRecord] | type[Report]] = {"stations": StationRecord, "reports": Report}


@dataclass(frozen=True)
class FileOutcome:
    """What one inbox file did to the database: counts, and which rows of the normalized table
    were stored as new versions (``stored_rows``, in the order of their row ids)."""

    file_id: int
    file_name: str
    kind: str | None
    status: str  # taken / quarantined / seen (same content taken before)
    reason: str | None = None
    rows_in: int = 0
    rows_new: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    rejects: int = 0
    stored_rows: tuple[int, ...] = field(default=(), repr=False)



def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the idempotence key of an inbox file)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_hash(raw: dict[str, Any]) -> str:
    """Content hash of a record as sent: same text in every column = same version."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



def find_file(session: Session, content_hash: str) -> SourceFile | None:
    return session.scalars(sa.select(SourceFile).where(SourceFile.content_hash == content_hash)).first()


def add_quarantined(session: Session, *, file_name: str, content_hash: str, reason: str, run_id: int | None) -> FileOutcome:
    """Record a refused file (once per content; a re-sent copy updates the row)."""
    row = find_file(session, content_hash)
    if row is None:
        row = SourceFile(content_hash=content_hash, file_name=file_name, kind=None, status="quarantined", reason=reason,
                         rows_in=0, rows_new=0, rows_changed=0, rows_unchanged=0, rejects=0, run_id=run_id, taken_at=utcnow())
        session.add(row)
    else:
        row.reason, row.run_id = reason, run_id
    session.flush()
    audit_log.add(session, "nightly", "file_quarantined", entity="source_file", entity_id=str(row.id), run_id=run_id)
    return FileOutcome(row.id, file_name, None, "quarantined", reason)


def _current_versions(session: Session, kind: str, keys: Sequence[str]) -> dict[str, tuple[int, int, str]]:
    """record key -> (row id, version, content hash) of its current version."""
    model = TABLE[kind]
    key_col = getattr(model, KEY[kind])
    found: dict[str, tuple[int, int, str]] = {}
    for chunk in chunks(list(keys)):
        stmt = sa.select(key_col, model.id, model.version, model.content_hash).where(key_col.in_(chunk), model.is_current)
        for key, rid, version, chash in session.execute(stmt):
            found[key] = (rid, version, chash)
    return found


def add_records(session: Session, *, kind: str, file_name: str, content_hash: str, raw: pd.DataFrame,
                raw_rows: pd.Series, normalized: pd.DataFrame, rejects: pd.DataFrame, run_id: int | None) -> FileOutcome:
    """Store one ingested file: new ids as version 1, changed content as a new current version.

    ``raw`` is the file as text (one row per ``raw_rows`` source row), ``normalized`` ingest's
    table (with ``source_row``), ``rejects`` its rejects table.
    """
    model = TABLE[kind]
    key = KEY[kind]
    src = find_file(session, content_hash)
    if src is not None and src.status == "taken":
        raise ValueError("file content taken before")  # the caller checks find_file first
    if src is None:  # else: quarantined before (e.g. a reader bug since fixed), taken now
        src = SourceFile(content_hash=content_hash)
        session.add(src)
    src.file_name, src.kind, src.status, src.reason, src.rows_in = file_name, kind, "taken", None, len(raw)
    src.rows_new = src.rows_changed = src.rows_unchanged = 0
    src.rejects, src.run_id, src.taken_at = len(rejects), run_id, utcnow()
    session.flush()

    raw_text = raw.astype(object).where(raw.notna(), None)
    raw_by_row = dict(zip(raw_rows.astype(int).tolist(), records_from_columns({str(c): raw_text[c].tolist() for c in raw_text.columns})))
    norm_rows = jsonable_frame(normalized)
    keys = normalized[key].astype(str).tolist()
    current = _current_versions(session, kind, keys)
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    stored_rows: list[int] = []
    superseded: list[int] = []
    new = changed = unchanged = 0
    for position, (rec_key, norm) in enumerate(zip(keys, norm_rows)):
        raw_row = raw_by_row[int(norm["source_row"])]
        h = row_hash(raw_row)
        cur = current.get(rec_key)
        if cur is not None and cur[2] == h:
            unchanged += 1
            continue
        stored_rows.append(position)
        if cur is None:
            version = 1
            new += 1
        else:
            version = cur[1] + 1
            superseded.append(cur[0])
            changed += 1
        inserts.append({key: rec_key, "version": version, "is_current": True, "content_hash": h, "raw": raw_row,
                        "normalized": norm, "source_file_id": src.id, "source_row": int(norm["source_row"]),
                        "created_at": now, "matched_run_id": None})
    for chunk in chunks(superseded):
        session.execute(sa.update(model).where(model.id.in_(chunk)).values(is_current=False))
    if inserts:
        session.execute(sa.insert(model), inserts)
    if len(rejects):
        rj = rejects.astype(object).where(rejects.notna(), None)
        session.execute(sa.insert(Reject), [
            {"source_file_id": src.id, "row": None if r["row"] is None else int(r["row"]), "column": r["column"],
             "value": None if r["value"] is None else str(r["value"]), "reason": str(r["reason"]), "severity": str(r["severity"])}
            for r in rj.to_dict("records")
        ])
    src.rows_new, src.rows_changed, src.rows_unchanged = new, changed, unchanged
    audit_log.add(session, "nightly", "file_taken", entity="source_file", entity_id=str(src.id), run_id=run_id,
          detail={"kind": kind, "rows": len(raw), "new": new, "changed": changed, "unchanged": unchanged, "rejects": len(rejects)})
    session.flush()
    return FileOutcome(src.id, file_name, kind, "taken", None, len(raw), new, changed, unchanged, len(rejects),
                       tuple(stored_rows))





@dataclass(frozen=True, eq=False)
class Versions:
    """Current versions of one kind: table row id, record key, "not matched yet" flag and
    ingest's normalized table, row for row."""

    row_ids: np.ndarray  # int64, ascending
    keys: np.ndarray  # object
    pending: np.ndarray  # bool
    frame: pd.DataFrame


def load_versions(session: Session, kind: str, *, after_id: int = 0, up_to: int | None = None) -> Versions:
    """Current versions of ``kind`` with ``after_id < row id <= up_to`` (all by default)."""
    model = TABLE[kind]
    key_col = getattr(model, KEY[kind])
    # Text, not the JSON type: one Arrow parse beats a json.loads per row.
    stmt = (sa.select(model.id, key_col, sa.cast(model.normalized, sa.Text), model.matched_run_id)
            .where(model.is_current, model.id > after_id).order_by(model.id))
    if up_to is not None:
        stmt = stmt.where(model.id <= up_to)
    ids: list[int] = []
    keys: list[str] = []
    texts: list[str] = []
    pending: list[bool] = []
    for rid, k, text, matched in session.execute(stmt):
        ids.append(rid)
        keys.append(k)
        texts.append(text)
        pending.append(matched is None)
    return Versions(np.array(ids, dtype=np.int64), np.array(keys, dtype=object), np.array(pending, dtype=bool),
                    frame_from_json_texts(kind, texts))


def pending_row_ids(session: Session, kind: str, *, up_to: int | None = None) -> np.ndarray:
    """Row ids of current versions no match run has ranked (new, changed or put back)."""
    model = TABLE[kind]
    # the pending index alone: with is_current and the id bound in the query, planners take
    # the (is_current, id) index and walk every current version
    rows = session.execute(sa.select(model.id, model.is_current).where(model.matched_run_id.is_(None))).all()
    return np.array([rid for rid, current in rows if current and (up_to is None or rid <= up_to)], dtype=np.int64)


def current_row_ids(session: Session, kind: str, keys: Iterable[str]) -> np.ndarray:
    """Row ids of the current versions of these record keys."""
    model = TABLE[kind]
    key_col = getattr(model, KEY[kind])
    out: list[int] = []
    for chunk in chunks(sorted(set(keys))):
        out.extend(session.scalars(sa.select(model.id).where(key_col.in_(chunk), model.is_current)))
    return np.array(out, dtype=np.int64)


def superseded_row_ids(session: Session, kind: str, after_id: int, up_to: int) -> np.ndarray:
    """Row ids up to ``after_id`` whose record got a newer version in ``(after_id, up_to]``."""
    model = TABLE[kind]
    key_col = getattr(model, KEY[kind])
    newer = sa.select(key_col).where(model.id > after_id, model.id <= up_to)
    stmt = sa.select(model.id).where(model.id <= after_id, key_col.in_(newer))
    return np.array(session.scalars(stmt).all(), dtype=np.int64)


def current_count(session: Session, kind: str, *, up_to: int | None = None) -> int:
    model = TABLE[kind]
    stmt = sa.select(sa.func.count()).select_from(model).where(model.is_current)
    if up_to is not None:
        stmt = stmt.where(model.id <= up_to)
    return int(session.scalar(stmt) or 0)


def max_row_id(session: Session, kind: str) -> int:
    model = TABLE[kind]
    return int(session.scalar(sa.select(sa.func.max(model.id))) or 0)



def put_back_all(session: Session, kind: str) -> int:
    """Every current version pending again (matched by the next run, as if new)."""
    model = TABLE[kind]
    result = session.execute(sa.update(model).where(model.is_current, model.matched_run_id.is_not(None))
                             .values(matched_run_id=None))
    return int(result.rowcount or 0)


def mark_matched(session: Session, kind: str, max_id: int, run_id: int) -> int:
    """Every version up to ``max_id`` not yet matched is now matched by ``run_id``."""
    model = TABLE[kind]
    result = session.execute(
        sa.update(model).where(model.matched_run_id.is_(None), model.id <= max_id).values(matched_run_id=run_id)
    )
    return int(result.rowcount or 0)


