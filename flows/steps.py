"""The night's steps as plain functions (the Prefect tasks in ``tasks.py`` are thin wrappers).

Each step reads and writes the database itself and returns a small dict of counts, so nothing
large passes through the Prefect engine. Logs carry file names, ids and counts, never values.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from xunqin.ingest import FileRefused
from xunqin.ingest.read import RawTable, read_table
from xunqin.ingest.schema import Kind
from xunqin.store import db
from xunqin.store import repo

STRONG_PROBABILITY = 0.95  # a "strong" candidate in the run summary
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
    """Read a file as the kind whose required columns its header carries (stations or reports)."""
    name = Path(path).name.lower()
    order: tuple[Kind, Kind] = ("reports", "stations") if any(h in name for h in REPORT_HINTS) else ("stations", "reports")
    refusals: dict[str, FileRefused] = {}
    for kind in order:
        try:
            return kind, read_table(path, kind)
        except FileRefused as exc:
            refusals[kind] = exc
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
    content_hash = repo.file_hash(file)
    Session = db.sessions(url)
    with Session.begin() as s:
        seen = repo.find_file(s, content_hash)
        if seen is not None and seen.status == "taken":  # taken before (a re-sent copy or a crashed move)
            outcome = repo.FileOutcome(seen.id, file.name, seen.kind, "seen")
            seen = True
        else:
            seen = False
    if seen:
        _move(file, Path(archive), content_hash)
        return _outcome_dict(outcome)
    started = time.perf_counter()
    try:
        kind, raw = sniff_kind(file)
        normalized, rejects = _normalize(kind, raw)
    except FileRefused as exc:
        reason = exc.why if exc.column is None else f"{exc.column}: {exc.why}"
        return _quarantine(url, file, Path(quarantine), content_hash, reason, run_id)
    except Exception as exc:  # a bug or an odd file must not stop the night: park the file
        return _quarantine(url, file, Path(quarantine), content_hash, f"could not be read ({type(exc).__name__})", run_id)
    with Session.begin() as s:
        outcome = repo.add_records(s, kind=kind, file_name=file.name, content_hash=content_hash, raw=raw.data,
                                   raw_rows=raw.source_row, normalized=normalized, rejects=rejects, run_id=run_id)
    _move(file, Path(archive), content_hash)
    result = _outcome_dict(outcome)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _quarantine(url: str, file: Path, folder: Path, content_hash: str, reason: str, run_id: int | None) -> dict[str, Any]:
    with db.sessions(url).begin() as s:
        outcome = repo.add_quarantined(s, file_name=file.name, content_hash=content_hash, reason=reason, run_id=run_id)
    target = _move(file, folder, content_hash)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return _outcome_dict(outcome)


def _outcome_dict(o: repo.FileOutcome) -> dict[str, Any]:
    return {"file": o.file_name, "kind": o.kind, "status": o.status, "reason": o.reason, "rows": o.rows_in,
            "new": o.rows_new, "changed": o.rows_changed, "unchanged": o.rows_unchanged, "rejects": o.rejects}


def match_pending(url: str, run_id: int | None, top_k: int | None = None) -> dict[str, Any]:
    """Incremental match: new/changed station records against all open reports, and all open
    station records against new/changed reports; candidates upserted; pending marks cleared.

    The candidate writes, the model (when trained now) and the "matched" marks are one
    transaction: a run killed here leaves the database as it was, and the next run redoes it.
    """
    from xunqin.matching.model import Model
    from xunqin.matching.pipeline import match, name_frequencies

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    Session = db.sessions(url)
    with Session() as s:
        stations = repo.load_current(s, "stations")
        reports = repo.load_current(s, "reports")
        excluded = repo.excluded_pairs(s)
        stored_model = repo.active_model(s)
    timings["load"] = round(time.perf_counter() - clock, 2)
    n_s, n_r = int(stations.pending.sum()), int(reports.pending.sum())
    summary: dict[str, Any] = {"pending_stations": n_s, "pending_reports": n_r, "open_stations": len(stations.frame),
                               "open_reports": len(reports.frame), "candidates_new": 0, "candidates_updated": 0,
                               "candidates_removed": 0, "strong_new": 0, "model": None, "model_trained": False}
    if n_s == 0 and n_r == 0:
        summary["timings"] = timings
        return summary  # nothing new: nothing is written (idempotent)

    model = Model.from_dict(stored_model[1]) if stored_model else None
    fresh: list[pd.DataFrame] = []
    rematched_s: list[str] = []
    rematched_r: list[str] = []
    clock = time.perf_counter()
    if len(stations.frame) and len(reports.frame):
        frequency = name_frequencies(reports.frame)
        full = bool(stations.pending.all() or reports.pending.all())
        if full:  # first night, or everything changed: one run over all pairs covers both halves
            out = match(stations.frame, reports.frame, model=model, top_k=top_k, exclude_pairs=excluded, name_frequency=frequency)
            fresh.append(out.candidates)
            model = out.model if model is None else model
            rematched_s = stations.frame["record_id"].astype(str).tolist()
            rematched_r = reports.frame.loc[reports.pending, "report_id"].astype(str).tolist()
        else:
            new_s = stations.frame.loc[stations.pending].reset_index(drop=True)
            new_r = reports.frame.loc[reports.pending].reset_index(drop=True)
            if len(new_s):
                out = match(new_s, reports.frame, model=model, top_k=top_k, exclude_pairs=excluded, name_frequency=frequency)
                model = out.model if model is None else model
                rematched_s = new_s["record_id"].astype(str).tolist()
                a = out.candidates
            else:
                a = None
            if len(new_r):
                out = match(stations.frame, new_r, model=model, top_k=top_k, exclude_pairs=excluded, name_frequency=frequency)
                model = out.model if model is None else model
                rematched_r = new_r["report_id"].astype(str).tolist()
                fresh.append(out.candidates)
            if a is not None:
                fresh.append(a)  # last: for a new station its full-view rows win over the slice's
    timings["match"] = round(time.perf_counter() - clock, 2)

    clock = time.perf_counter()
    with Session.begin() as s:
        version = None
        if model is not None:
            trained = stored_model is None
            version = repo.save_model(s, model.to_dict(), run_id) if trained else stored_model[0]  # type: ignore[index]
            summary["model_trained"] = trained
        summary["model"] = version
        if fresh:
            k = top_k or model.settings.top_k  # type: ignore[union-attr]
            changes = repo.apply_candidates(s, pd.concat(fresh, ignore_index=True), rematched_stations=rematched_s,
                                            rematched_reports=rematched_r, top_k=k, model_version=version or "",
                                            run_id=run_id, strong_probability=STRONG_PROBABILITY)
            summary.update(candidates_new=changes.inserted, candidates_updated=changes.updated,
                           candidates_removed=changes.deleted, strong_new=changes.strong_inserted)
        repo.mark_matched(s, "stations", stations.max_id, run_id or 0)
        repo.mark_matched(s, "reports", reports.max_id, run_id or 0)
        repo.audit(s, "nightly", "match", run_id=run_id, detail={k: v for k, v in summary.items() if k != "timings"})
    timings["write"] = round(time.perf_counter() - clock, 2)
    summary["timings"] = timings
    return summary


def queue_size(url: str) -> int:
    with db.sessions(url)() as s:
        return len(repo.review_queue(s))

