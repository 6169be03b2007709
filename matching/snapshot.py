"""Prepared tables kept between runs, so a night with a few new records does not prepare every
record again.

A :class:`Snapshot` holds both prepared sides with their shared vocabulary, and per row the
caller's token (the database row id of that record version). :func:`refresh` drops the rows
whose tokens are gone and prepares only the new ones; :func:`save` and :func:`load` keep it in
a folder of Feather (Arrow IPC) files written and read by pyarrow, and ``snapshot.json``, the
manifest: the format, the preparation code, the caller's facts, and the parts.

A part is what one save added: ``stations-<save>.arrow`` and ``reports-<save>.arrow`` (a row
per record: id, token, single values as columns, text values dictionary-encoded, each
multi-valued field a list of vocabulary codes), ``vocabulary-<save>.arrow`` (the strings first
coded since the part before), and in the manifest the tokens of earlier parts' rows that left.
The snapshot is the parts' rows in order, less those that left. A night's save writes one small
part and the manifest, not every row again: at size M (``python -m benchmarks.incremental
--size M``) 0.5-0.9 s for the whole, 0.03 s for a night's part. Once there are
:data:`MAX_PARTS` parts, a save writes the whole snapshot as one part.

Each file's size and CRC-32 are in the manifest, so a damaged file, or one of another save, is
refused. Files are written aside and renamed into place, the manifest last, and a part's files
never replace a file the manifest names: a save cut short leaves the snapshot before it whole.
Files the manifest does not name are removed after it is written. Nothing is pickled. A
snapshot written by other preparation code (any change to this package's preparation modules)
is refused on load, and the caller prepares from scratch.

Feather, not Parquet: a whole save took 0.73 s in Parquet at M (its page checksums and level
encoding), 0.53 s in Feather with LZ4 and the CRC. Uncompressed and memory-mapped, a load of
size M's snapshot took 0.66 s (median of four), with LZ4 read into memory 0.96 s: the file is
not copied, nor decompressed into fresh pages, before the arrays are made from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from .codes import MultiValue, Vocabulary
from .features import Prepared, Side, assemble, prepare_reports, prepare_stations

FORMAT = "xunqin-prepared/5"
KINDS = ("stations", "reports")
FILES = (*KINDS, "vocabulary")  # the files of a part
MANIFEST = "snapshot.json"
SUFFIX = ".arrow"
OWN_SUFFIXES = (SUFFIX, ".partial", ".parquet")  # files of ours a save may remove (.parquet: format 3)
COMPRESSION = "uncompressed"  # read in place (LZ4 is a third smaller: 118 MB, not 184 MB at M)
MAX_PARTS = 8  # the ninth save writes the whole again: a load reads each part's files
ID, TOKEN = "id", "token"  # the two columns every side's file starts with
VALUE, TEXT, MULTI = "v:", "t:", "m:"  # column prefixes: a number, a text (dictionary-encoded), a list of codes
CODE_TYPE = pa.list_(pa.int32())  # codes fit: a vocabulary of 2**31 strings would not fit in memory


class SnapshotError(Exception):
    """A snapshot that cannot be used (other format, other preparation code, damaged)."""


@dataclass
class OnDisk:
    """What of a snapshot a folder holds already: a save adds only the rest as a new part."""

    folder: Path
    parts: list[dict[str, Any]]  # the manifest's parts
    unsaved: dict[str, int]  # per kind, rows at the end of the side in no part yet
    gone: dict[str, np.ndarray]  # per kind, tokens of rows in the parts dropped since
    vocabulary: int  # strings the parts hold (codes 0 .. vocabulary-1)


@dataclass
class Snapshot:
    stations: Side
    reports: Side
    vocab: Vocabulary
    tokens: dict[str, np.ndarray]  # per kind, int64 token of each row (the database row id)
    info: dict[str, Any] = field(default_factory=dict)  # the caller's JSON facts (which database)
    dropped: int = 0  # rows dropped since built: their vocabulary entries are dead weight
    disk: OnDisk | None = None  # where it was read from or last saved to

    def side(self, kind: str) -> Side:
        return self.stations if kind == "stations" else self.reports

    def prepared(self) -> Prepared:
        return assemble(self.stations, self.reports, self.vocab)

    @property
    def rows(self) -> int:
        return self.stations.n + self.reports.n


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the code that prepares rows: a snapshot from other code is not reused."""
    from xunqin.normalizers import phonetic

    from . import codes, features

    digest = hashlib.sha256(FORMAT.encode())
    for module in (features, codes, phonetic):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


def _prepare(kind: str, frame: pd.DataFrame, vocab: Vocabulary) -> Side:
    frame = frame.reset_index(drop=True)
    return prepare_stations(frame, vocab) if kind == "stations" else prepare_reports(frame, vocab)


def build(frames: dict[str, pd.DataFrame], tokens: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> Snapshot:
    """Prepare both kinds from their normalized tables (the same tables :func:`prepare` takes)."""
    vocab = Vocabulary()
    reports = _prepare("reports", frames["reports"], vocab)  # reports first, as prepare() does
    stations = _prepare("stations", frames["stations"], vocab)
    return Snapshot(stations, reports, vocab, {k: np.asarray(tokens[k], dtype=np.int64) for k in KINDS}, dict(info or {}))


def refresh(snapshot: Snapshot, drop: dict[str, np.ndarray], add: dict[str, tuple[pd.DataFrame, np.ndarray]]) -> Snapshot:
    """Rows whose token is in ``drop[kind]`` leave; ``add[kind]`` (table, tokens) are prepared
    and appended. The vocabulary is extended in place (codes held keep their strings): use the
    returned snapshot only."""
    sides: dict[str, Side] = {}
    tokens: dict[str, np.ndarray] = {}
    dropped = snapshot.dropped
    disk = snapshot.disk
    unsaved: dict[str, int] = {}
    gone_on_disk: dict[str, np.ndarray] = {}
    for kind in KINDS:
        side, held = snapshot.side(kind), snapshot.tokens[kind]
        gone = np.isin(held, np.asarray(drop.get(kind, ()), dtype=np.int64))
        if disk is not None:  # rows in the parts leave by token; rows not saved yet just leave
            in_parts = side.n - disk.unsaved[kind]
            gone_on_disk[kind] = np.concatenate([disk.gone[kind], held[:in_parts][gone[:in_parts]]])
            unsaved[kind] = disk.unsaved[kind] - int(gone[in_parts:].sum())
        kept = ~gone if gone.any() else None
        dropped += int(gone.sum())
        pieces, keep, held_parts = [side], [kept], [held if kept is None else held[kept]]
        frame, new_tokens = add.get(kind, (None, ()))
        if frame is not None and len(frame):
            if len(new_tokens) != len(frame):
                raise ValueError(f"{kind}: {len(frame)} rows but {len(new_tokens)} tokens")
            pieces.append(_prepare(kind, frame, snapshot.vocab))
            keep.append(None)
            held_parts.append(np.asarray(new_tokens, dtype=np.int64))
            unsaved[kind] = unsaved.get(kind, 0) + len(frame)
        # the rows that stay and the new ones in one copy
        sides[kind], tokens[kind] = Side.concat(pieces, keep), np.concatenate(held_parts)
    if disk is not None:
        disk = OnDisk(disk.folder, disk.parts, unsaved, gone_on_disk, disk.vocabulary)
    return Snapshot(sides["stations"], sides["reports"], snapshot.vocab, tokens, dict(snapshot.info), dropped, disk)


# --------------------------------------------------------------------------- files


def _side_table(side: Side, tokens: np.ndarray) -> pa.Table:
    columns: dict[str, pa.Array] = {ID: pa.array(side.ids, type=pa.string()), TOKEN: pa.array(tokens, type=pa.int64())}
    for name, values in side.values.items():
        if values.dtype == object:
            columns[TEXT + name] = pa.array(values, type=pa.string()).dictionary_encode()
        else:
            columns[VALUE + name] = pa.array(values)
    for name, multi in side.multi.items():
        columns[MULTI + name] = pa.ListArray.from_arrays(pa.array(multi.indptr, type=pa.int32()),
                                                         pa.array(multi.codes, type=pa.int32()))
    return pa.table(columns)


def _write_aside(path: Path, write) -> bytes:  # type: ignore[no-untyped-def]
    """``write(partial)`` writes the file beside ``path``; renamed into place once whole."""
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        body = partial.read_bytes()  # from the page cache just written
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return body


def _write(table: pa.Table, path: Path) -> dict[str, Any]:
    """``table`` as a Feather file at ``path``; its name, size and CRC-32."""
    body = _write_aside(path, lambda partial: feather.write_feather(table, partial, compression=COMPRESSION))
    return {"name": path.name, "bytes": len(body), "crc32": zlib.crc32(body)}


def _tail(side: Side, rows: int) -> Side:
    return side.take(np.arange(side.n - rows, side.n, dtype=np.int64))


def save(snapshot: Snapshot, path: str | Path) -> Path:
    """Write the snapshot into the folder ``path``: only what the folder lacks as a new part,
    when the snapshot was read from or saved to it and the folder still holds those parts;
    else (or at :data:`MAX_PARTS`) the whole as one part. ``snapshot`` is left as it was: saved
    again, it is saved whole (the folder no longer holds the parts it was read with)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    folder = path.resolve()
    disk = snapshot.disk
    parts: list[dict[str, Any]] = []
    if disk is not None and disk.folder == folder and len(disk.parts) < MAX_PARTS:
        try:
            if read_info(path).get("parts") == disk.parts:  # no other save in between
                parts = list(disk.parts)
        except SnapshotError:
            pass
    tokens = {kind: snapshot.tokens[kind] for kind in KINDS}
    if parts:
        assert disk is not None
        sides = {kind: _tail(snapshot.side(kind), disk.unsaved[kind]) for kind in KINDS}
        tokens = {kind: tokens[kind][len(tokens[kind]) - disk.unsaved[kind]:] for kind in KINDS}
        strings = snapshot.vocab.decode_table()[disk.vocabulary:]
        gone = {kind: disk.gone[kind].tolist() for kind in KINDS}
    else:
        sides = {kind: snapshot.side(kind) for kind in KINDS}
        strings = snapshot.vocab.decode_table()
        gone = {kind: [] for kind in KINDS}
    tables = {kind: _side_table(sides[kind], tokens[kind]) for kind in KINDS}
    tables["vocabulary"] = pa.table({"string": pa.array(strings, type=pa.string())})
    save_id = uuid.uuid4().hex
    part = {"save": save_id, "rows": {k: sides[k].n for k in KINDS}, "vocabulary": len(strings), "gone": gone,
            "files": {name: _write(tables[name], path / f"{name}-{save_id}{SUFFIX}") for name in FILES}}
    parts.append(part)
    header = {"format": FORMAT, "code": code_fingerprint(), "info": snapshot.info, "dropped": snapshot.dropped,
              "rows": {k: snapshot.side(k).n for k in KINDS}, "vocabulary": len(snapshot.vocab),
              "columns": {k: tables[k].column_names for k in KINDS}, "parts": parts}
    _write_aside(path / MANIFEST, lambda partial: partial.write_bytes(
        json.dumps(header, ensure_ascii=False, indent=1).encode("utf-8")))
    named = {entry["name"] for p in parts for entry in p["files"].values()}
    for item in path.iterdir():  # earlier saves' files, and a cut-short save's: the same personal data
        if item.suffix in OWN_SUFFIXES and item.name not in named and item.is_file():
            item.unlink(missing_ok=True)
    return path


def read_info(path: str | Path) -> dict[str, Any]:
    """The manifest of a snapshot (format, code fingerprint, the caller's info, the parts)."""
    try:
        header = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc
    if not isinstance(header, dict) or not isinstance(header.get("parts"), list) or not header["parts"]:
        raise SnapshotError("not a prepared-records snapshot (manifest)")
    return header


def _read(folder: Path, expected: Any) -> pa.Table:
    if not isinstance(expected, dict) or not isinstance(expected.get("name"), str) \
            or Path(expected["name"]).name != expected["name"]:
        raise SnapshotError("a file the manifest does not name properly")
    # mapped, not read: the arrays are made from the file's pages (a snapshot of earlier code,
    # compressed, is decompressed as it is read)
    body = pa.memory_map(str(folder / expected["name"])).read_buffer()
    if body.size != expected.get("bytes") or zlib.crc32(body) != expected.get("crc32"):
        raise SnapshotError(f"{expected['name']} is not the file the manifest names (damaged, or of another save)")
    table = feather.read_table(pa.BufferReader(body))
    table.validate(full=True)  # offsets within bounds, text valid UTF-8
    return table


def _codes(column: pa.ChunkedArray, vocabulary: int) -> MultiValue:
    if column.type != CODE_TYPE or column.null_count:
        raise SnapshotError("a code list column of another type")
    array = column.combine_chunks()
    offsets = np.asarray(array.offsets, dtype=np.int64)
    codes = np.asarray(array.values, dtype=np.int64)[offsets[0]:offsets[-1]]
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= vocabulary):
        raise SnapshotError("codes past the vocabulary")
    return MultiValue(offsets - offsets[0], codes)


def _side(table: pa.Table, rows: int, columns: list[str], vocabulary: int) -> tuple[Side, np.ndarray]:
    if table.num_rows != rows or table.column_names != columns or columns[:2] != [ID, TOKEN]:
        raise SnapshotError("rows or columns other than the header's")
    if table.schema.field(ID).type != pa.string() or table.schema.field(TOKEN).type != pa.int64():
        raise SnapshotError("id or token column of another type")
    ids = table.column(ID).to_numpy(zero_copy_only=False)
    values: dict[str, np.ndarray] = {}
    multi: dict[str, MultiValue] = {}
    for name in table.column_names[2:]:
        column = table.column(name)
        if name.startswith(TEXT):
            if column.type != pa.dictionary(pa.int32(), pa.string()):
                raise SnapshotError("a text column of another type")
            values[name[len(TEXT):]] = column.combine_chunks().dictionary_decode().to_numpy(zero_copy_only=False)
        elif name.startswith(VALUE):
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                    or pa.types.is_boolean(column.type)) or column.null_count:
                raise SnapshotError("a value column of another type")
            values[name[len(VALUE):]] = column.to_numpy()
        elif name.startswith(MULTI):
            multi[name[len(MULTI):]] = _codes(column, vocabulary)
        else:
            raise SnapshotError("an unknown column")
    return Side(ids, rows, values, multi), table.column(TOKEN).to_numpy()


def _gone_tokens(part: dict[str, Any], kind: str) -> np.ndarray:
    gone = part.get("gone", {}).get(kind) if isinstance(part.get("gone"), dict) else None
    if not isinstance(gone, list) or not all(type(t) is int for t in gone):
        raise SnapshotError("a part's departed rows of another shape")
    return np.asarray(gone, dtype=np.int64)


def load(path: str | Path) -> Snapshot:
    """Read a snapshot; :class:`SnapshotError` when it is of another format or code, or damaged."""
    path = Path(path)
    header = read_info(path)
    try:
        if header.get("format") != FORMAT or header.get("code") != code_fingerprint():
            raise SnapshotError("snapshot written by other preparation code")
        parts = header["parts"]
        strings = []
        for part in parts:
            table = _read(path, part["files"]["vocabulary"])
            if table.column_names != ["string"] or table.schema.field(0).type != pa.string() \
                    or table.num_rows != part["vocabulary"] or table.column(0).null_count:
                raise SnapshotError("vocabulary of another shape")
            strings.append(table.column(0).to_numpy(zero_copy_only=False))
        vocab = Vocabulary(np.concatenate(strings))
        if len(vocab) != header["vocabulary"]:
            raise SnapshotError("vocabulary of another shape")
        sides, tokens = {}, {}
        for kind in KINDS:
            read = [_side(_read(path, part["files"][kind]), int(part["rows"][kind]), header["columns"][kind], len(vocab))
                    for part in parts]
            held = np.concatenate([r[1] for r in read])
            left = np.zeros(len(held), dtype=bool)
            start = 0
            for part, (part_side, _) in zip(parts, read):  # a part's departed rows are of earlier parts
                departed = _gone_tokens(part, kind)
                earlier = np.isin(held[:start], departed)
                if int(earlier.sum()) != len(np.unique(departed)):
                    raise SnapshotError("a part's departed rows are not rows of the parts before it")
                left[:start] |= earlier
                start += part_side.n
            bounds = np.cumsum([0] + [r[0].n for r in read])
            keep = [None if not left[a:b].any() else ~left[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            side, held = Side.concat([r[0] for r in read], keep), held[~left]
            if side.n != int(header["rows"][kind]):
                raise SnapshotError("rows other than the header's")
            sides[kind], tokens[kind] = side, held
    except SnapshotError:
        raise
    except Exception as exc:  # pyarrow, json and a short header each fail their own way
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc
    disk = OnDisk(path.resolve(), parts, {k: 0 for k in KINDS}, {k: np.zeros(0, np.int64) for k in KINDS}, len(vocab))
    return Snapshot(sides["stations"], sides["reports"], vocab, tokens, header.get("info", {}),
                    int(header.get("dropped", 0)), disk)
