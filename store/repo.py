"""Repository functions over the workstation database.

Every function takes an open ``Session`` and does not commit: the caller owns the transaction,
so a file's records, or a night's candidates plus the "matched" marks, land together or not at
all (that is what makes a killed run safe to run again). Nothing here logs personal data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import (
    CONFIRMED,
    DECISIONS,
    EXCLUDED,
    AuditLog,
    Candidate,
    Decision,
    MatchModel,
    Reject,
    Report,
    Run,
    SourceFile,
    StationRecord,
    Workstation,
    utcnow,
)

CHUNK = 900  # ids per IN (...) list: under SQLite's bound-parameter limit everywhere
KEY = {"stations": "record_id", "reports": "report_id"}
TABLE: dict[str, type[StationRecord] | type[Report]] = {"stations": StationRecord, "reports": Report}
# Candidate columns kept as real columns; the rest of a match row goes into ``evidence``.
CANDIDATE_MAIN = ("station_record_id", "report_id", "rank", "score", "probability")
# A pair under review (not ruled out) stays in the queue even when it drops out of the top K.
KEEP_DECIDED = ("疑似", "待定", CONFIRMED)


@dataclass(frozen=True)
class FileOutcome:
    """What one inbox file did to the database (counts only)."""

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


@dataclass(frozen=True)
class CandidateChanges:
    """Rows written to the candidate queue by one apply."""

    inserted: int
    updated: int
    deleted: int
    stations_touched: int
    strong_inserted: int = 0


# --------------------------------------------------------------------------- helpers


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


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


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _records(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Column lists -> row dicts (several times faster than DataFrame.to_dict on wide rows)."""
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())] if names else []


def _jsonable_frame(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Normalized rows -> JSON-ready dicts: dates as ISO text, NaN as null, numpy scalars as Python."""
    columns: dict[str, list[Any]] = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None)
        elif pd.api.types.is_integer_dtype(s):
            s = s.astype(object)
        else:
            s = s.astype(object).where(s.notna(), None)
        # numpy floats/ints can survive astype(object); json needs Python ones
        columns[str(col)] = [_python(v) for v in s.tolist()]
    if not len(df.columns):
        return [{} for _ in range(len(df))]
    return _records(columns)


def frame_from_json(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Stored normalized rows -> the DataFrame ingest produced (column order and dtypes)."""
    return frame_from_json_texts(kind, [json.dumps(r, ensure_ascii=False) for r in rows])


def frame_from_json_texts(kind: str, texts: Sequence[str]) -> pd.DataFrame:
    """Stored normalized rows as JSON text -> ingest's DataFrame; parsed column-wise by Arrow
    (several times faster than dicts -> DataFrame on hundreds of thousands of rows)."""
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json

    from xunqin.ingest.tables import DATE_COLUMNS, FLOAT_COLUMNS, REPORT_OUTPUT, STATION_OUTPUT

    order = STATION_OUTPUT if kind == "stations" else REPORT_OUTPUT
    if not texts:
        df = pd.DataFrame({c: pd.Series([], dtype=object) for c in order})
    else:
        schema = pa.schema([pa.field(c, pa.float64() if c in FLOAT_COLUMNS else pa.int64() if c == "source_row" else pa.string())
                            for c in order])
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        table = pa_json.read_json(io.BytesIO("\n".join(texts).encode("utf-8")), parse_options=options)
        df = table.to_pandas()
    for col in order:
        if col in FLOAT_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif col in DATE_COLUMNS:
            df[col] = pd.to_datetime(df[col], format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
        elif col == "source_row":
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
        else:
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


# --------------------------------------------------------------------------- runs and audit


def start_run(session: Session, flow: str) -> int:
    run = Run(flow=flow, status="running", started_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, status: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
    session.execute(
        sa.update(Run).where(Run.id == run_id).values(status=status, finished_at=utcnow(), summary=summary, error=error)
    )


def interrupt_stale_runs(session: Session, flow: str) -> int:
    """Runs of ``flow`` still 'running' (the process was killed) -> 'interrupted'."""
    result = session.execute(
        sa.update(Run).where(Run.flow == flow, Run.status == "running").values(status="interrupted", finished_at=utcnow())
    )
    return int(result.rowcount or 0)


def audit(session: Session, actor: str, action: str, *, entity: str | None = None, entity_id: str | None = None,
          run_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
    """One audit row; ``detail`` must hold ids and counts only."""
    session.add(AuditLog(at=utcnow(), actor=actor, action=action, entity=entity, entity_id=entity_id, run_id=run_id, detail=detail))


# --------------------------------------------------------------------------- files and records


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
    audit(session, "nightly", "file_quarantined", entity="source_file", entity_id=str(row.id), run_id=run_id)
    return FileOutcome(row.id, file_name, None, "quarantined", reason)


def _current_versions(session: Session, kind: str, keys: Sequence[str]) -> dict[str, tuple[int, int, str]]:
    """record key -> (row id, version, content hash) of its current version."""
    model = TABLE[kind]
    key_col = getattr(model, KEY[kind])
    found: dict[str, tuple[int, int, str]] = {}
    for chunk in _chunks(list(keys)):
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
    raw_by_row = dict(zip(raw_rows.astype(int).tolist(), _records({str(c): raw_text[c].tolist() for c in raw_text.columns})))
    norm_rows = _jsonable_frame(normalized)
    keys = normalized[key].astype(str).tolist()
    current = _current_versions(session, kind, keys)
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    superseded: list[int] = []
    new = changed = unchanged = 0
    for rec_key, norm in zip(keys, norm_rows):
        raw_row = raw_by_row[int(norm["source_row"])]
        h = row_hash(raw_row)
        cur = current.get(rec_key)
        if cur is not None and cur[2] == h:
            unchanged += 1
            continue
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
    for chunk in _chunks(superseded):
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
    audit(session, "nightly", "file_taken", entity="source_file", entity_id=str(src.id), run_id=run_id,
          detail={"kind": kind, "rows": len(raw), "new": new, "changed": changed, "unchanged": unchanged, "rejects": len(rejects)})
    session.flush()
    return FileOutcome(src.id, file_name, kind, "taken", None, len(raw), new, changed, unchanged, len(rejects))


# --------------------------------------------------------------------------- decisions


def latest_decisions(session: Session) -> pd.DataFrame:
    """The decision in force per pair: station_record_id, report_id, decision."""
    last = (
        sa.select(sa.func.max(Decision.id).label("id"))
        .group_by(Decision.station_record_id, Decision.report_id)
        .subquery()
    )
    stmt = sa.select(Decision.station_record_id, Decision.report_id, Decision.decision).join(last, Decision.id == last.c.id)
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["station_record_id", "report_id", "decision"])


def excluded_pairs(session: Session) -> pd.DataFrame:
    """Pairs a reviewer ruled out (排除): never offered again."""
    d = latest_decisions(session)
    return d.loc[d["decision"] == EXCLUDED, ["station_record_id", "report_id"]].reset_index(drop=True)


def closed_ids(session: Session) -> tuple[set[str], set[str]]:
    """(station record ids, report ids) a reviewer confirmed (确认): out of the queue."""
    d = latest_decisions(session)
    c = d[d["decision"] == CONFIRMED]
    return set(c["station_record_id"]), set(c["report_id"])


def _requeue(session: Session, station_record_id: str, report_id: str) -> None:
    for kind, rec_key in (("stations", station_record_id), ("reports", report_id)):
        model = TABLE[kind]
        session.execute(
            sa.update(model).where(getattr(model, KEY[kind]) == rec_key, model.is_current).values(matched_run_id=None)
        )


def _rerank(session: Session, stations: Iterable[str]) -> None:
    """Close up the ranks of these station records after rows left their lists."""
    for station in set(stations):
        rows = session.execute(
            sa.select(Candidate.id, Candidate.rank).where(Candidate.station_record_id == station)
            .order_by(Candidate.score.desc(), Candidate.report_id)
        ).all()
        for new_rank, (cid, rank) in enumerate(rows, start=1):
            if rank != new_rank:
                session.execute(sa.update(Candidate).where(Candidate.id == cid).values(rank=new_rank))


def record_decision(session: Session, station_record_id: str, report_id: str, decision: str, reviewer: str,
                    note: str | None = None) -> int:
    """Store a reviewer decision (疑似 / 排除 / 待定 / 确认) and update the queue; returns its id."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision; expected one of {'/'.join(DECISIONS)}")
    if not reviewer or not str(reviewer).strip():
        raise ValueError("reviewer required")
    before = latest_decisions(session)
    prior = before[(before["station_record_id"] == station_record_id) & (before["report_id"] == report_id)]
    row = Decision(station_record_id=station_record_id, report_id=report_id, decision=decision, note=note,
                   reviewer=reviewer, decided_at=utcnow())
    session.add(row)
    session.flush()
    pair = (Candidate.station_record_id == station_record_id) & (Candidate.report_id == report_id)
    if decision == EXCLUDED:
        session.execute(sa.delete(Candidate).where(pair))
        _rerank(session, [station_record_id])
    elif decision == CONFIRMED:
        # The person is found: every other pair of this station record or this report leaves.
        others = (Candidate.station_record_id == station_record_id) | (Candidate.report_id == report_id)
        affected = session.scalars(sa.select(Candidate.station_record_id).where(others).distinct()).all()
        session.execute(sa.delete(Candidate).where(others & ~pair))
        _rerank(session, affected)
    if len(prior) and prior["decision"].iloc[0] in (CONFIRMED, EXCLUDED) and decision != prior["decision"].iloc[0]:
        _requeue(session, station_record_id, report_id)  # undone: match both again next night
    audit(session, reviewer, "decision", entity="pair", entity_id=f"{station_record_id}|{report_id}",
          detail={"decision": decision, "decision_id": row.id})
    return row.id


# --------------------------------------------------------------------------- loading for the matcher


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
    for chunk in _chunks(sorted(set(keys))):
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


def instance_id(session: Session) -> str:
    """The random id this database got when its schema was created."""
    value = workstation_value(session, "instance_id")
    if value is None:
        raise LookupError("database has no instance id: run its migrations (xunqin.store.upgrade)")
    return value


def workstation_value(session: Session, key: str) -> str | None:
    return session.scalar(sa.select(Workstation.value).where(Workstation.key == key))


def set_workstation_value(session: Session, key: str, value: str) -> None:
    row = session.get(Workstation, key)
    if row is None:
        session.add(Workstation(key=key, value=value))
    else:
        row.value = value
    session.flush()


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


# --------------------------------------------------------------------------- models


def model_version(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def active_model(session: Session) -> tuple[str, dict[str, Any]] | None:
    """(version, model dict) of the active model, None when none was trained yet."""
    row = session.scalars(sa.select(MatchModel).where(MatchModel.is_active).order_by(MatchModel.id.desc())).first()
    return None if row is None else (row.version, json.loads(row.body))


def save_model(session: Session, model_dict: dict[str, Any], run_id: int | None) -> str:
    """Store a model's JSON and make it the active one; returns its version."""
    body = json.dumps(model_dict, ensure_ascii=False, sort_keys=True, indent=1)
    version = model_version(body)
    existing = session.scalars(sa.select(MatchModel).where(MatchModel.version == version)).first()
    session.execute(sa.update(MatchModel).where(MatchModel.is_active).values(is_active=False))
    if existing is None:
        session.add(MatchModel(version=version, body=body, is_active=True, created_at=utcnow(), run_id=run_id))
    else:
        existing.is_active = True
    audit(session, "nightly", "model_saved", entity="model", entity_id=version, run_id=run_id)
    session.flush()
    return version


# --------------------------------------------------------------------------- candidates


def _evidence(df: pd.DataFrame) -> list[dict[str, Any]]:
    extra = [c for c in df.columns if c not in CANDIDATE_MAIN]
    return _jsonable_frame(df[extra]) if extra else [{} for _ in range(len(df))]


def _existing_candidates(session: Session, *, stations: Iterable[str], reports: Iterable[str]) -> pd.DataFrame:
    """Stored rows of these station records or reports, without their evidence (decoding every
    row's JSON cost more than the rest of the write; :func:`_stored_evidence` fetches the few
    that are compared)."""
    cols = [Candidate.id, Candidate.station_record_id, Candidate.report_id, Candidate.rank, Candidate.score,
            Candidate.probability, Candidate.model_version]
    names = ["id", "station_record_id", "report_id", "rank", "score", "probability", "model_version"]
    parts: list[pd.DataFrame] = []
    for column, values in ((Candidate.station_record_id, sorted(set(stations))), (Candidate.report_id, sorted(set(reports)))):
        for chunk in _chunks(values):
            rows = session.execute(sa.select(*cols).where(column.in_(chunk))).all()
            if rows:
                parts.append(pd.DataFrame(rows, columns=names))
    if not parts:
        return pd.DataFrame(columns=names)
    return pd.concat(parts, ignore_index=True).drop_duplicates("id")


def _stored_evidence(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for chunk in _chunks(sorted(ids)):
        rows = session.execute(sa.select(Candidate.id, Candidate.evidence).where(Candidate.id.in_(chunk)))
        out.update((cid, evidence) for cid, evidence in rows)
    return out


def list_floors(session: Session, top_k: int) -> dict[str, float]:
    """Per station record with a full top-``top_k`` list: the score a new pair must beat to enter."""
    stmt = (sa.select(Candidate.station_record_id, sa.func.min(Candidate.score), sa.func.count())
            .where(Candidate.rank <= top_k).group_by(Candidate.station_record_id))
    return {sid: float(low) for sid, low, n in session.execute(stmt) if n >= top_k}


def stations_holding(session: Session, report_ids: Iterable[str]) -> set[str]:
    """Station records with a stored candidate row of one of these reports."""
    out: set[str] = set()
    for chunk in _chunks(sorted(set(report_ids))):
        out.update(session.scalars(sa.select(Candidate.station_record_id).where(Candidate.report_id.in_(chunk)).distinct()))
    return out


def pairs_under_review(session: Session) -> pd.DataFrame:
    """Pairs whose decision keeps them in the queue (疑似 / 待定 / 确认): station_record_id, report_id."""
    d = latest_decisions(session)
    return d.loc[d["decision"].isin(KEEP_DECIDED), ["station_record_id", "report_id"]].reset_index(drop=True)


def _drop_losers(session: Session, fresh: pd.DataFrame, *, top_k: int, keep_stations: set[str]) -> pd.DataFrame:
    """Fresh rows that cannot enter a full stored top-K list (score below its K-th) go now, so a
    night of new reports does not rewrite every station record's list. Rows of stations whose
    list is being rebuilt, and pairs under review, are kept."""
    if fresh.empty:
        return fresh
    floor = list_floors(session, top_k)
    if not floor:
        return fresh
    decided = pairs_under_review(session)
    under_review = set(zip(decided["station_record_id"], decided["report_id"]))
    low = fresh["station_record_id"].map(floor).astype(float)
    losing = (fresh["score"].astype(float) < low).to_numpy() & ~fresh["station_record_id"].isin(keep_stations).to_numpy()
    if under_review:
        losing &= ~np.array([p in under_review for p in zip(fresh["station_record_id"], fresh["report_id"])], dtype=bool)
    return fresh.loc[~losing]


def apply_candidates(session: Session, fresh: pd.DataFrame, *, rematched_stations: Iterable[str],
                     rematched_reports: Iterable[str], top_k: int, model_version: str, run_id: int | None,
                     strong_probability: float = 0.95) -> CandidateChanges:
    """Merge a night's match rows into the queue and keep the top ``top_k`` per station record.

    ``fresh`` holds match rows (the matcher's output contract). Old rows of a re-matched station
    record or report are replaced (their content changed, or they are new); other stations keep
    their rows and gain the fresh ones that beat them. Excluded pairs and closed records go.
    """
    rematched_s, rematched_r = set(map(str, rematched_stations)), set(map(str, rematched_reports))
    fresh = fresh.copy()
    fresh["station_record_id"] = fresh["station_record_id"].astype(str)
    fresh["report_id"] = fresh["report_id"].astype(str)
    # Station records whose list may change: re-matched ones, ones with fresh rows, and ones
    # holding a re-matched report (that row is stale and goes).
    via_reports = _existing_candidates(session, stations=(), reports=rematched_r)
    fresh = _drop_losers(session, fresh, top_k=top_k, keep_stations=rematched_s | set(via_reports["station_record_id"]))
    touched = set(fresh["station_record_id"]) | rematched_s | set(via_reports["station_record_id"])
    old = _existing_candidates(session, stations=touched, reports=())

    decisions = latest_decisions(session)
    pair_key = lambda s, r: pd.Series(s, dtype=str).str.cat(pd.Series(r, dtype=str), sep="\x1f").to_numpy()  # noqa: E731
    excluded = set(pair_key(*(decisions.loc[decisions["decision"] == EXCLUDED, c] for c in ("station_record_id", "report_id"))))
    kept_decided = set(pair_key(*(decisions.loc[decisions["decision"].isin(KEEP_DECIDED), c] for c in ("station_record_id", "report_id"))))
    confirmed = decisions[decisions["decision"] == CONFIRMED]
    closed_s, closed_r = set(confirmed["station_record_id"]), set(confirmed["report_id"])
    confirmed_pairs = set(pair_key(confirmed["station_record_id"], confirmed["report_id"]))

    old = old.assign(key=pair_key(old["station_record_id"], old["report_id"]))
    stale = old["station_record_id"].isin(rematched_s) | old["report_id"].isin(rematched_r)
    carried = old.loc[~stale | old["key"].isin(kept_decided)]
    new_rows = pd.DataFrame({
        "station_record_id": fresh["station_record_id"].to_numpy(),
        "report_id": fresh["report_id"].to_numpy(),
        "score": fresh["score"].astype(float).to_numpy(),
        "probability": fresh["probability"].astype(float).to_numpy(),
        "evidence": _evidence(fresh),
        "model_version": model_version,
        "fresh": True,
    })
    new_rows["key"] = pair_key(new_rows["station_record_id"], new_rows["report_id"])
    parts = [p for p in (carried.drop(columns=["id", "rank"]), new_rows) if len(p)]
    merged = pd.concat(parts, ignore_index=True) if parts else new_rows
    for column, missing in (("evidence", None), ("fresh", False)):  # carried rows alone lack them
        if column not in merged:
            merged[column] = missing
    merged = merged.drop_duplicates("key", keep="last")  # fresh rows win over carried ones
    drop = merged["key"].isin(excluded) | (
        (merged["station_record_id"].isin(closed_s) | merged["report_id"].isin(closed_r)) & ~merged["key"].isin(confirmed_pairs)
    )
    merged = merged.loc[~drop]
    merged = merged.sort_values(["station_record_id", "score", "report_id"], ascending=[True, False, True], kind="stable")
    merged["rank"] = merged.groupby("station_record_id").cumcount() + 1
    merged = merged.loc[(merged["rank"] <= top_k) | merged["key"].isin(kept_decided)]

    # Diff against what is stored for the touched station records. A carried row differs from
    # its stored one in rank only; a fresh row that is stored may differ in anything.
    stored = old
    stored_by_key = dict(zip(stored["key"], zip(stored["id"].astype(int).tolist(), stored["rank"].astype(int).tolist(),
                                                stored["score"].astype(float).tolist(), stored["model_version"].tolist())))
    final_keys = set(merged["key"])
    gone = stored.loc[~stored["key"].isin(final_keys), "id"].astype(int).tolist()
    for chunk in _chunks(gone):
        session.execute(sa.delete(Candidate).where(Candidate.id.in_(chunk)))
    is_fresh = merged["fresh"].eq(True).tolist()  # carried rows: NaN after the concat
    keys = merged["key"].tolist()
    compared = [stored_by_key[k][0] for k, f in zip(keys, is_fresh) if f and k in stored_by_key]
    stored_evidence = _stored_evidence(session, compared) if compared else {}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    rank_updates: list[dict[str, Any]] = []
    for key, fresh_row, sid, rid, rank, score, probability, evidence, version in zip(
            keys, is_fresh, merged["station_record_id"].tolist(), merged["report_id"].tolist(),
            merged["rank"].astype(int).tolist(), merged["score"].astype(float).tolist(),
            merged["probability"].astype(float).tolist(), merged["evidence"].tolist(), merged["model_version"].tolist()):
        have = stored_by_key.get(key)
        if have is None:
            inserts.append({"station_record_id": sid, "report_id": rid, "rank": rank, "score": score,
                            "probability": probability, "evidence": evidence, "model_version": version,
                            "run_id": run_id, "updated_at": now})
        elif not fresh_row:
            if have[1] != rank:
                rank_updates.append({"_id": have[0], "rank": rank, "run_id": run_id, "updated_at": now})
        else:
            held = stored_evidence.get(have[0])
            held = held if isinstance(held, dict) or held is None else json.loads(held)
            if not (have[1] == rank and have[2] == score and held == evidence and have[3] == version):
                updates.append({"_id": have[0], "rank": rank, "score": score, "probability": probability,
                                "evidence": evidence, "model_version": version, "run_id": run_id, "updated_at": now})
    for batch, columns in ((updates, ("rank", "score", "probability", "evidence", "model_version", "run_id", "updated_at")),
                           (rank_updates, ("rank", "run_id", "updated_at"))):
        if batch:
            stmt = (sa.update(Candidate).where(Candidate.id == sa.bindparam("_id"))
                    .values({k: sa.bindparam(k) for k in columns}))
            session.connection().execute(stmt, batch)
    if inserts:
        session.execute(sa.insert(Candidate), inserts)
    strong = sum(1 for r in inserts if r["probability"] >= strong_probability)
    return CandidateChanges(len(inserts), len(updates) + len(rank_updates), len(gone), len(touched), strong)


def purge_closed(session: Session) -> int:
    """Drop queue rows of confirmed people and of ruled-out pairs (safety net after decisions)."""
    decisions = latest_decisions(session)
    n = 0
    for rec in decisions.to_dict("records"):
        pair = (Candidate.station_record_id == rec["station_record_id"]) & (Candidate.report_id == rec["report_id"])
        if rec["decision"] == EXCLUDED:
            n += int(session.execute(sa.delete(Candidate).where(pair)).rowcount or 0)
        elif rec["decision"] == CONFIRMED:
            n += int(session.execute(sa.delete(Candidate).where(
                ((Candidate.station_record_id == rec["station_record_id"]) | (Candidate.report_id == rec["report_id"])) & ~pair
            )).rowcount or 0)
    return n


def review_queue(session: Session, limit: int | None = None) -> pd.DataFrame:
    """Open candidates, best first within each station record (what reviewers see)."""
    stmt = sa.select(Candidate.station_record_id, Candidate.report_id, Candidate.rank, Candidate.score,
                     Candidate.probability, Candidate.model_version).order_by(Candidate.station_record_id, Candidate.rank)
    if limit:
        stmt = stmt.limit(limit)
    df = pd.DataFrame(session.execute(stmt).all(),
                      columns=["station_record_id", "report_id", "rank", "score", "probability", "model_version"])
    closed_s, closed_r = closed_ids(session)
    return df.loc[~df["station_record_id"].isin(closed_s) & ~df["report_id"].isin(closed_r)].reset_index(drop=True)
