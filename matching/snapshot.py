"""Prepared tables kept between runs, so a night with a few new records does not prepare every
record again.

A :class:`Snapshot` holds both prepared sides with their shared vocabulary, and per row the
caller's token (the database row id of that record version). :func:`refresh` drops the rows
whose tokens are gone and prepares only the new ones; :func:`save` and :func:`load` keep it in
a folder of three Feather (Arrow IPC) files written and read by pyarrow: ``stations.arrow`` and
``reports.arrow`` (a row per record: id, token, single values as columns, text values
dictionary-encoded, each multi-valued field a list of vocabulary codes) and
``vocabulary.arrow`` (code k is row k), and ``snapshot.json``: the format, the preparation
code, the caller's facts, and each file's size and CRC-32, so a damaged file, or files of two
saves (a save cut short), are refused. Each file is written aside and renamed into place, the
JSON last. Nothing is pickled. A snapshot written by other preparation code (any change to this
package's preparation modules) is refused on load, and the caller prepares from scratch.

Feather, not Parquet: at size M (``python -m benchmarks.incremental --size M``) a night's save
took 0.73 s in Parquet (its page checksums and level encoding), 0.53 s in Feather with LZ4 and
the CRC; loading takes about the same (0.5 s).
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

FORMAT = "xunqin-prepared/4"
KINDS = ("stations", "reports")
FILES = (*KINDS, "vocabulary")
MANIFEST = "snapshot.json"
SUFFIX = ".arrow"
COMPRESSION = "lz4"  # a third smaller than none (113 MB, not 177 MB at M), as fast
OLD_FILES = ("stations.parquet", "reports.parquet", "vocabulary.parquet")  # format 3: same personal data
ID, TOKEN = "id", "token"  # the two columns every side's file starts with
VALUE, TEXT, MULTI = "v:", "t:", "m:"  # column prefixes: a number, a text (dictionary-encoded), a list of codes
CODE_TYPE = pa.list_(pa.int32())  # codes fit: a vocabulary of 2**31 strings would not fit in memory


class SnapshotError(Exception):
    """A snapshot that cannot be used (other format, other preparation code, damaged)."""


@dataclass
class Snapshot:
    stations: Side
    reports: Side
    vocab: Vocabulary
    tokens: dict[str, np.ndarray]  # per kind, int64 token of each row (the database row id)
    info: dict[str, Any] = field(default_factory=dict)  # the caller's JSON facts (which database)
    dropped: int = 0  # rows dropped since built: their vocabulary entries are dead weight

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
    for kind in KINDS:
        side, held = snapshot.side(kind), snapshot.tokens[kind]
        gone = np.isin(held, np.asarray(drop.get(kind, ()), dtype=np.int64))
        if gone.any():
            side, held = side.take(np.flatnonzero(~gone)), held[~gone]
            dropped += int(gone.sum())
        frame, new_tokens = add.get(kind, (None, ()))
        if frame is not None and len(frame):
            if len(new_tokens) != len(frame):
                raise ValueError(f"{kind}: {len(frame)} rows but {len(new_tokens)} tokens")
            side = side.append(_prepare(kind, frame, snapshot.vocab))
            held = np.concatenate([held, np.asarray(new_tokens, dtype=np.int64)])
        sides[kind], tokens[kind] = side, held
    return Snapshot(sides["stations"], sides["reports"], snapshot.vocab, tokens, dict(snapshot.info), dropped)


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


def _write(table: pa.Table, path: Path) -> dict[str, int]:
    """``table`` as a Feather file at ``path``, written aside and renamed; its size and CRC-32."""
    partial = path.with_name(path.name + ".partial")
    try:
        feather.write_feather(table, partial, compression=COMPRESSION)
        body = partial.read_bytes()  # from the page cache just written
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {"bytes": len(body), "crc32": zlib.crc32(body)}


def _replace(path: Path, body: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(body)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def save(snapshot: Snapshot, path: str | Path) -> Path:
    """Write the snapshot into the folder ``path`` (each file written aside, then renamed; the
    manifest last, so that a save cut short leaves files the old manifest refuses)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tables = {kind: _side_table(snapshot.side(kind), snapshot.tokens[kind]) for kind in KINDS}
    header = {"format": FORMAT, "code": code_fingerprint(), "save": uuid.uuid4().hex, "info": snapshot.info,
              "dropped": snapshot.dropped, "rows": {k: snapshot.side(k).n for k in KINDS},
              "columns": {k: tables[k].column_names for k in KINDS}, "vocabulary": len(snapshot.vocab)}
    tables["vocabulary"] = pa.table({"string": pa.array(snapshot.vocab.decode_table(), type=pa.string())})
    header["files"] = {name: _write(tables[name], path / f"{name}{SUFFIX}") for name in FILES}
    _replace(path / MANIFEST, json.dumps(header, ensure_ascii=False, indent=1).encode("utf-8"))
    for old in OLD_FILES:
        (path / old).unlink(missing_ok=True)
    return path


def read_info(path: str | Path) -> dict[str, Any]:
    """The manifest of a snapshot (format, code fingerprint, the caller's info, the files)."""
    try:
        header = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc
    if not isinstance(header, dict) or not isinstance(header.get("files"), dict):
        raise SnapshotError("not a prepared-records snapshot (manifest)")
    return header


def _read(path: Path, expected: Any) -> pa.Table:
    body = path.read_bytes()
    if not isinstance(expected, dict) or len(body) != expected.get("bytes") or zlib.crc32(body) != expected.get("crc32"):
        raise SnapshotError(f"{path.name} is not the file the manifest names (damaged, or of another save)")
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


def load(path: str | Path) -> Snapshot:
    """Read a snapshot; :class:`SnapshotError` when it is of another format or code, or damaged."""
    path = Path(path)
    header = read_info(path)
    try:
        if header.get("format") != FORMAT or header.get("code") != code_fingerprint():
            raise SnapshotError("snapshot written by other preparation code")
        read = {name: _read(path / f"{name}{SUFFIX}", header["files"].get(name)) for name in FILES}
        strings = read["vocabulary"]
        if strings.column_names != ["string"] or strings.schema.field(0).type != pa.string() \
                or strings.num_rows != header["vocabulary"] or strings.column(0).null_count:
            raise SnapshotError("vocabulary of another shape")
        vocab = Vocabulary(strings.column(0).to_numpy(zero_copy_only=False))
        sides = {kind: _side(read[kind], int(header["rows"][kind]), header["columns"][kind], len(vocab))
                 for kind in KINDS}
    except SnapshotError:
        raise
    except Exception as exc:  # pyarrow, json and a short header each fail their own way
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc
    return Snapshot(sides["stations"][0], sides["reports"][0], vocab, {k: sides[k][1] for k in KINDS},
                    header.get("info", {}), int(header.get("dropped", 0)))
