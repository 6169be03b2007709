"""The night's steps as plain functions (the Prefect tasks in ``tasks.py`` are thin wrappers).

Each step reads and writes the database itself and returns a small dict of counts, so nothing
large passes through the Prefect engine. Logs carry file names, ids and counts, never values.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xunqin.ingest import FileRefused
from xunqin.ingest.read import RawTable, read_table
from xunqin.ingest.schema import Kind
from xunqin.store import db
from xunqin.store import audit_log, candidates, decisions, model_versions, records, search

if TYPE_CHECKING:
    from xunqin.flows.prepared import NightTables

STRONG_PROBABILITY = 0.95  # a "strong" candidate in the run summary (the probability shown)
# New labels (reviewer 确认/排除, police results) since the active model was stored that make a
# night fit a new version first (kept only when not worse on held-out labels).
RETRAIN_AFTER_LABELS = 50
# Files an inbox scan never takes: hidden files, Office lock files, partial uploads.
SKIP_PREFIXES = (".", "~$")
SKIP_SUFFIXES = (".tmp", ".part", ".crdownload", ".reason.txt")
# Names that hint at a reports file: try that kind first (the header decides in the end).
REPORT_HINTS = ("report", "寻人", "走失", "失踪", "寻亲", "报")


def archive_dirs(inbox: str | Path, archive: str | Path | None, quarantine: str | Path | None) -> tuple[Path, Path]:
    """Archive and quarantine folders: given ones, else ``<inbox>/archive`` and ``<inbox>/quarantine``."""
    base = Path(inbox)
    return (Path(archive) if archive else base / "archive", Path(quarantine) if quarantine else base / "quarantine")


def list_inbox(inbox: str | Path) -> list[str]:
    """Files waiting in ``inbox`` (not sub-folders), oldest first, then by name."""
    folder = Path(inbox)
    if not folder.is_dir():
        raise FileNotFoundError(f"inbox folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(SKIP_PREFIXES)
             and not p.name.lower().endswith(SKIP_SUFFIXES)]
    return [str(p) for p in sorted(files, key=lambda p: (p.stat().st_mtime, p.name))]


def sniff_kind(path: str | Path) -> tuple[Kind, RawTable]:
    """Read a file as the kind whose required columns its header carries (stations, reports, or
    police verification results)."""
    name = Path(path).name.lower()
    order: tuple[Kind, ...] = ("reports", "stations") if any(h in name for h in REPORT_HINTS) else ("stations", "reports")
    refusals: dict[str, FileRefused] = {}
    for kind in order:
        try:
            return kind, read_table(path, kind)
        except FileRefused as exc:
            refusals[kind] = exc
    try:  # results carry neither kind's required columns; tried last, only when both refused
        return "police", read_table(path, "police")
    except FileRefused as exc:
        refusals["police"] = exc
    s, r = refusals["stations"], refusals["reports"]
    if (s.column, s.why.replace("stations", "reports")) == (r.column, r.why):  # unreadable whatever the kind
        raise s
    raise FileRefused(str(path), s.column, f"neither a stations file ({s.column or '-'}: {s.why}) "
                                           f"nor a reports file ({r.column or '-'}: {r.why})")


def _normalize(kind: Kind, raw: RawTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    from xunqin.ingest.tables import normalize_reports, normalize_stations

    return (normalize_stations if kind == "stations" else normalize_reports)(raw)


def _move(path: Path, folder: Path, content_hash: str) -> Path:
    """Move ``path`` into ``folder/<date>/``; a name taken already gets the hash prefix added."""
    day = folder / dt.date.today().isoformat()
    day.mkdir(parents=True, exist_ok=True)
    target = day / path.name
    if target.exists():
        target = day / f"{path.stem}.{content_hash[:8]}{path.suffix}"
    if target.exists():
        path.unlink()  # same name and same content already there
        return target
    shutil.move(str(path), str(target))
    return target


def take_file(url: str, path: str, archive: str, quarantine: str, run_id: int | None) -> dict[str, Any]:
    """Ingest one inbox file into the database, then archive it (or quarantine it with its reason)."""
    file = Path(path)
    content_hash = records.file_hash(file)
    Session = db.sessions(url)
    with Session.begin() as s:
        seen = records.find_file(s, content_hash)
        if seen is not None and seen.status == "taken":  # taken before (a re-sent copy or a crashed move)
            outcome = records.FileOutcome(seen.id, file.name, seen.kind, "seen")
            seen = True
        else:
            seen = False
    if seen:
        _move(file, Path(archive), content_hash)
        return _outcome_dict(outcome)
    started = time.perf_counter()
    try:
        kind, raw = sniff_kind(file)
        if kind == "police":
            from xunqin.flows.police import import_file

            done = import_file(url, file, "nightly", raw=raw, run_id=run_id)
            _move(file, Path(archive), content_hash)
            return {"file": file.name, "kind": "police", "status": "taken", "reason": None, "rows": done["rows"],
                    "new": done["taken"], "changed": 0, "unchanged": done["already_recorded"],
                    "rejects": done["not_taken_count"], "seconds": round(time.perf_counter() - started, 2)}
        normalized, rejects = _normalize(kind, raw)
    except FileRefused as exc:
        reason = exc.why if exc.column is None else f"{exc.column}: {exc.why}"
        return _quarantine(url, file, Path(quarantine), content_hash, reason, run_id)
    except Exception as exc:  # a bug or an odd file must not stop the night: park the file
        return _quarantine(url, file, Path(quarantine), content_hash, f"could not be read ({type(exc).__name__})", run_id)
    with db.sessions(url).begin() as s:
        outcome = records.add_records(s, kind=kind, file_name=file.name, content_hash=content_hash, raw=raw.data,
                                   raw_rows=raw.source_row, normalized=normalized, rejects=rejects, run_id=run_id)
        # the search keys land with the records they index
        search.catch_up(s, search.Stored(kind, normalized.iloc[list(outcome.stored_rows)]))
    _move(file, Path(archive), content_hash)
    result = _outcome_dict(outcome)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _quarantine(url: str, file: Path, folder: Path, content_hash: str, reason: str, run_id: int | None) -> dict[str, Any]:
    with db.sessions(url).begin() as s:
        outcome = records.add_quarantined(s, file_name=file.name, content_hash=content_hash, reason=reason, run_id=run_id)
    target = _move(file, folder, content_hash)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return _outcome_dict(outcome)


def _outcome_dict(o: records.FileOutcome) -> dict[str, Any]:
    return {"file": o.file_name, "kind": o.kind, "status": o.status, "reason": o.reason, "rows": o.rows_in,
            "new": o.rows_new, "changed": o.rows_changed, "unchanged": o.rows_unchanged, "rejects": o.rejects}


def put_back_all(url: str, run_id: int | None) -> dict[str, int]:
    """Every current record pending again, so the next match ranks all of them afresh: stored
    scores were weighed with the name frequencies of their night, and these drift as reports
    come in (a name held by one report then is held by several now)."""
    with db.sessions(url).begin() as s:
        counts = {kind: records.put_back_all(s, kind) for kind in ("stations", "reports")}
        audit_log.add(s, "nightly", "rematch_all", run_id=run_id, detail=counts)
    return counts


def retrain_if_due(url: str, run_id: int | None, *, cache_dir: str | None = None,
                   threshold: int | None = None) -> dict[str, Any] | None:
    """Fit a new model version when ``threshold`` labels arrived since the last version was
    stored (kept or not); None when not due (or no model yet: the first night trains by EM)."""
    from xunqin.flows.model_command import train_version
    from xunqin.store import labels

    threshold = RETRAIN_AFTER_LABELS if threshold is None else threshold
    with db.sessions(url)() as s:
        versions = model_versions.list_models(s)
        if not versions:
            return None
        new_labels = labels.labels_since(s, versions[-1].created_at)
    if new_labels < threshold:
        return None
    done = train_version(url, cache_dir=cache_dir, actor="nightly", run_id=run_id)
    return {"new_labels": new_labels, "number": done["number"], "activated": done["activated"], "why": done["why"]}


def match_pending(url: str, run_id: int | None, top_k: int | None = None, *,
                  cache_dir: str | None = None, use_cache: bool = True) -> dict[str, Any]:
    """Incremental match: new/changed station records against all open reports, and all open
    station records against new/changed reports; candidates upserted; pending marks cleared.

    The prepared records come from the snapshot kept between nights (``cache_dir``, see
    :mod:`xunqin.flows.prepared`). The candidate writes, the model (when trained now) and the
    "matched" marks are one transaction: a run killed here leaves the database as it was, and
    the next run redoes it.
    """
    from xunqin.flows.prepared import night_tables

    clock = time.perf_counter()
    tables = night_tables(url, cache_dir, use_cache=use_cache)
    return _match_tables(url, run_id, top_k, tables, clock)


def _match_tables(url: str, run_id: int | None, top_k: int | None, tables: NightTables, clock: float) -> dict[str, Any]:
    from xunqin.matching.model import Model
    from xunqin.matching.pipeline import match_prepared

    timings: dict[str, float] = {f"load_{k}": v for k, v in tables.timings.items()}
    timings["load_tables"] = round(time.perf_counter() - clock, 2)
    Session = db.sessions(url)
    snapshot = tables.snapshot
    with Session() as s:
        excluded = decisions.excluded_pairs(s)
        closed_s, closed_r = decisions.closed_ids(s)
        stored_model = model_versions.active_model(s)
        model = Model.from_dict(stored_model[1]) if stored_model else None
        # confirmed records by row id: hashing half a million id strings costs more
        open_s = ~np.isin(snapshot.tokens["stations"], records.current_row_ids(s, "stations", closed_s))
        open_r = ~np.isin(snapshot.tokens["reports"], records.current_row_ids(s, "reports", closed_r))
    timings["load"] = round(time.perf_counter() - clock, 2)
    pending_s, pending_r = tables.pending["stations"] & open_s, tables.pending["reports"] & open_r
    n_s, n_r = int(pending_s.sum()), int(pending_r.sum())
    summary: dict[str, Any] = {"pending_stations": n_s, "pending_reports": n_r, "open_stations": int(open_s.sum()),
                               "open_reports": int(open_r.sum()), "candidates_new": 0, "candidates_updated": 0,
                               "candidates_removed": 0, "strong_new": 0, "model": None, "model_trained": False,
                               "prepared": tables.source}
    if n_s == 0 and n_r == 0:
        summary["timings"] = timings
        return summary  # nothing new: nothing is written (idempotent)

    fresh: pd.DataFrame | None = None
    rematched_s: list[str] = []
    rematched_r: list[str] = []
    clock = time.perf_counter()
    if open_s.any() and open_r.any():
        # first night, or everything changed on one side: one run over all pairs covers both
        full = bool(pending_s[open_s].all() or pending_r[open_r].all())
        focus: dict[str, np.ndarray] = {}
        if not full:
            with Session() as s:
                floor = _score_floor(s, snapshot.stations.ids, pending_s, snapshot.reports.ids[pending_r],
                                     top_k or (model and model.settings.top_k))
            focus = {"station_focus": pending_s, "report_focus": pending_r, "score_floor": floor}
        out = match_prepared(snapshot.prepared(), model=model, top_k=top_k, exclude_pairs=excluded,
                             station_open=open_s, report_open=open_r, **focus)
        fresh, model = out.candidates, model or out.model
        timings.update({f"match_{k}": v for k, v in out.timings.items()})
        rematched_s = snapshot.stations.ids[open_s if full else pending_s].astype(str).tolist()
        rematched_r = snapshot.reports.ids[pending_r].astype(str).tolist()
    timings["match"] = round(time.perf_counter() - clock, 2)

    clock = time.perf_counter()
    with db.sessions(url).begin() as s:
        version = None
        if model is not None:
            trained = stored_model is None
            version = model_versions.save_model(s, model.to_dict(), run_id) if trained else stored_model[0]  # type: ignore[index]
            summary["model_trained"] = trained
        summary["model"] = version
        if fresh is not None:
            k = top_k or model.settings.top_k  # type: ignore[union-attr]
            n_reports = snapshot.reports.n
            shown = model.probabilities  # type: ignore[union-attr]
            changes = candidates.apply_candidates(s, fresh, rematched_stations=rematched_s, rematched_reports=rematched_r,
                                                  top_k=k, model_version=version or "", run_id=run_id,
                                                  strong_probability=STRONG_PROBABILITY,
                                                  probability=lambda scores, ids: shown(scores, ids, n_reports))
            summary.update(candidates_new=changes.inserted, candidates_updated=changes.updated,
                           candidates_removed=changes.deleted, strong_new=changes.strong_inserted)
        for kind in ("stations", "reports"):
            records.mark_matched(s, kind, tables.max_id[kind], run_id or 0)
        audit_log.add(s, "nightly", "match", run_id=run_id, detail={k: v for k, v in summary.items() if k != "timings"})
    timings["write"] = round(time.perf_counter() - clock, 2)
    summary["timings"] = timings
    return summary


def _score_floor(session, station_ids: np.ndarray, pending_stations: np.ndarray, pending_report_ids: np.ndarray,  # type: ignore[no-untyped-def]
                 top_k: int | None) -> np.ndarray:
    """Per station row, the score a fresh pair must reach to be worth ranking (-inf: any).

    An old station record's stored full list is entered only by a pair beating its K-th score.
    A pending station record's list is rebuilt; one with a pair under review takes every fresh
    row (its score is kept fresh); one holding a row of a changed report loses that stale row,
    so its list is no longer full.
    """
    floor = np.full(len(station_ids), -np.inf)
    if not top_k:
        return floor
    floors = candidates.list_floors(session, top_k)
    if not floors:
        return floor
    unfloored = set(decisions.pairs_under_review(session)["station_record_id"])
    unfloored |= candidates.stations_holding(session, pending_report_ids.astype(str).tolist())
    ids = pd.Series(station_ids)
    floor = ids.map(floors).astype(float).fillna(-np.inf).to_numpy()
    floor[pending_stations | ids.isin(unfloored).to_numpy()] = -np.inf
    return floor


def queue_size(url: str) -> int:
    with db.sessions(url)() as s:
        return len(candidates.review_queue(s))

