"""The matcher's prepared tables for one night, kept in a snapshot between nights.

Preparing half a million reports takes longer than matching a night's few hundred new records
against them, and record versions never change once stored: so the prepared rows are kept in
a snapshot (a folder of Feather files, one per database, named by the database's instance id;
see :mod:`xunqin.matching.snapshot`) and each night only the versions stored since are prepared
and the superseded ones dropped; the night writes it back before it matches. It is a cache:
when it is missing, unreadable, from other code or out of step with the database, the night
prepares everything again and writes a new one. Nothing in it is needed to recover the database.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.engine import make_url

from xunqin.matching import snapshot as snap_mod
from xunqin.store import db, records, workstation

log = logging.getLogger(__name__)

KINDS = snap_mod.KINDS
TOKEN_KEY = "prepared_snapshot"  # workstation row: the token of the snapshot last written
# Rows dropped since the snapshot was built, as a share of those held, above which it is built
# afresh (dropped rows leave dead vocabulary entries behind).
REBUILD_DROPPED_SHARE = 0.25


@dataclass
class NightTables:
    snapshot: snap_mod.Snapshot
    pending: dict[str, np.ndarray]  # bool per row: not matched yet in this version
    max_id: dict[str, int]  # highest row id seen per table (what "matched" marks cover)
    source: str  # built / refreshed / reused
    path: Path | None
    timings: dict[str, float]


def default_cache_dir(url: str) -> Path | None:
    """Beside a SQLite file (``x.db`` -> ``x.db.cache/``); else the user's cache folder
    ($XDG_CACHE_HOME or ~/.cache, then ``xunqin``). None for an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if not name or name == ":memory:" or name.startswith("file::memory:"):
            return None
        return Path(name).expanduser().resolve().parent / (Path(name).name + ".cache")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xunqin"


def snapshot_path(url: str, cache_dir: str | Path | None, instance: str) -> Path | None:
    folder = Path(cache_dir) if cache_dir else default_cache_dir(url)
    return None if folder is None else folder / f"prepared-{instance}"


def _reusable(path: Path | None, instance: str, token: str | None) -> snap_mod.Snapshot | None:
    if path is None or not path.exists():
        return None
    try:
        snapshot = snap_mod.load(path)
    except snap_mod.SnapshotError as exc:
        log.warning("prepared snapshot not reused: %s", exc)
        return None
    if snapshot.info.get("instance") != instance:
        log.warning("prepared snapshot not reused: it mirrors another database")
        return None
    if token is None or snapshot.info.get("token") != token:
        # the database does not know this snapshot: restored from a backup, or the file is
        # older or newer than the last one the database recorded
        log.warning("prepared snapshot not reused: not the one this database last recorded")
        return None
    return snapshot


def _refresh(s, snapshot: snap_mod.Snapshot, max_id: dict[str, int]) -> snap_mod.Snapshot | None:  # type: ignore[no-untyped-def]
    """Bring the snapshot up to ``max_id``; None when it is out of step with the database."""
    drop: dict[str, np.ndarray] = {}
    add = {}
    for kind in KINDS:
        after = int(snapshot.info["max_id"][kind])
        if after > max_id[kind]:
            log.warning("prepared snapshot not reused: it is ahead of the database")
            return None
        side = snapshot.side(kind)
        gone = np.isin(snapshot.tokens[kind], records.superseded_row_ids(s, kind, after, max_id[kind]))
        if side.n - int(gone.sum()) != records.current_count(s, kind, up_to=after):
            log.warning("prepared snapshot not reused: its %s are out of step with the database", kind)
            return None
        drop[kind] = snapshot.tokens[kind][gone]
        new = records.load_versions(s, kind, after_id=after, up_to=max_id[kind])
        add[kind] = (new.frame, new.row_ids)
    refreshed = snap_mod.refresh(snapshot, drop, add)
    refreshed.info["max_id"] = dict(max_id)
    return refreshed


def night_tables(url: str, cache_dir: str | Path | None = None, *, use_cache: bool = True) -> NightTables:
    """Every current record prepared, with pending flags; from the snapshot when it serves."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    with db.sessions(url)() as s:
        instance = workstation.instance_id(s)
        max_id = {kind: records.max_row_id(s, kind) for kind in KINDS}
        path = snapshot_path(url, cache_dir, instance) if use_cache else None
        snapshot = _reusable(path, instance, workstation.get_value(s, TOKEN_KEY))
        timings["snapshot_load"] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()
        source = "built"
        if snapshot is not None:
            if all(int(snapshot.info["max_id"][k]) == max_id[k] for k in KINDS):
                source = "reused"
            else:
                snapshot = _refresh(s, snapshot, max_id)
                source = "refreshed"
            if snapshot is not None and snapshot.dropped > REBUILD_DROPPED_SHARE * max(snapshot.rows, 1):
                snapshot = None  # built afresh below
        if snapshot is None:
            source = "built"
            versions = {kind: records.load_versions(s, kind, up_to=max_id[kind]) for kind in KINDS}
            snapshot = snap_mod.build({k: v.frame for k, v in versions.items()},
                                      {k: v.row_ids for k, v in versions.items()},
                                      {"instance": instance, "max_id": dict(max_id)})
        pending_ids = {kind: records.pending_row_ids(s, kind, up_to=max_id[kind]) for kind in KINDS}
    pending = {kind: np.isin(snapshot.tokens[kind], pending_ids[kind]) for kind in KINDS}
    timings["prepare"] = round(time.perf_counter() - clock, 2)
    if path is not None and source != "reused":
        # the database records the token first: should the files then not be written, the
        # next night finds an older token in them and rebuilds
        clock = time.perf_counter()
        snapshot.info["token"] = uuid.uuid4().hex
        with db.sessions(url).begin() as s:
            workstation.set_value(s, TOKEN_KEY, snapshot.info["token"])
        _save(snapshot, path)
        timings["snapshot_save"] = round(time.perf_counter() - clock, 2)
    log.info("prepared tables %s: %d station records, %d reports", source, snapshot.stations.n, snapshot.reports.n)
    return NightTables(snapshot, pending, max_id, source, path, timings)


def _save(snapshot: snap_mod.Snapshot, path: Path) -> None:
    try:
        snap_mod.save(snapshot, path)
    except OSError as exc:  # a cache: the night goes on without it
        log.warning("prepared snapshot not written: %s", exc)
        return
    # the one-file snapshot of earlier versions holds the same personal data: not left behind
    path.with_name(path.name + ".npz").unlink(missing_ok=True)
