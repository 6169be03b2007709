"""Prepared tables kept between runs, so a night with a few new records does not prepare every
record again.

A :class:`Snapshot` holds both prepared sides with their shared vocabulary, and per row the
caller's token (the database row id of that record version). :func:`refresh` drops the rows
whose tokens are gone and prepares only the new ones; :func:`save` and :func:`load` keep it in
one ``.npz`` file (plain arrays and JSON text, nothing pickled). A snapshot written by other
preparation code (any change to this package's preparation modules) is refused on load, and the
caller prepares from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import arrays
from .arrays import Vocabulary
from .prepare import Prepared, Side, assemble, prepare_reports, prepare_stations

FORMAT = "xunqin-prepared/2"
ROOM_SHARE = 0.03  # room left after each loaded field for a night's new rows (3%: more is copied)
KINDS = ("stations", "reports")
SEPARATOR = "\x1f"  # joins strings into one text array (no ids, names or codes hold it)


class SnapshotError(Exception):
    """A snapshot file that cannot be used (other format, other preparation code, damaged)."""


@dataclass
class Snapshot:
    stations: Side
    reports: Side
    vocab: Vocabulary
    tokens: dict[str, np.ndarray]  # per kind, int64 token of each row (the database row id)
    info: dict[str, Any] = field(default_factory=dict)  # the caller's JSON facts (which database)
    dropped: int = 0  # rows dropped since built: their vocabulary entries are dead weight
    # text arrays as read (name -> (strings held, utf-8 bytes)): a save after appending only
    # extends them instead of joining half a million strings again while the night matches
    texts: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

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

    from . import arrays, prepare as prepare_mod

    digest = hashlib.sha256(FORMAT.encode())
    for module in (prepare_mod, arrays, phonetic):
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
    and appended. The vocabulary is extended in place: use the returned snapshot only."""
    sides: dict[str, Side] = {}
    tokens: dict[str, np.ndarray] = {}
    texts: dict[str, tuple[int, np.ndarray]] = {}
    dropped = snapshot.dropped
    for kind in KINDS:
        side, held = snapshot.side(kind), snapshot.tokens[kind]
        frame, new_tokens = add.get(kind, (None, ()))
        new = None
        if frame is not None and len(frame):
            if len(new_tokens) != len(frame):
                raise ValueError(f"{kind}: {len(frame)} rows but {len(new_tokens)} tokens")
            new = _prepare(kind, frame, snapshot.vocab)
        gone = np.isin(held, np.asarray(drop.get(kind, ()), dtype=np.int64))
        if gone.any():  # kept rows copied once, with room for the new ones
            side, held = side.take(np.flatnonzero(~gone), room=new), held[~gone]
            dropped += int(gone.sum())
        if new is not None:
            side = side.append(new)
            held = np.concatenate([held, np.asarray(new_tokens, dtype=np.int64)])
        sides[kind], tokens[kind] = side, held
        if not gone.any():  # rows only appended: the text read stays the start of the text
            texts.update(_extended(snapshot.texts, kind, snapshot.side(kind).n, new))
    if "vocab" in snapshot.texts:
        n, buffer = snapshot.texts["vocab"]
        added = snapshot.vocab.strings_from(n)
        texts["vocab"] = (len(snapshot.vocab), _joined(buffer, n, _text(added) if added else None))
    return Snapshot(sides["stations"], sides["reports"], snapshot.vocab, tokens, dict(snapshot.info), dropped, texts)


def _joined(head: np.ndarray, head_count: int, tail: np.ndarray | None) -> np.ndarray:
    """The text of ``head_count`` strings followed by ``tail``'s (None: no more strings)."""
    if tail is None:
        return head
    if head_count == 0:
        return tail
    return np.concatenate([head, np.frombuffer(SEPARATOR.encode("utf-8"), dtype=np.uint8), tail])


def _extended(texts: dict[str, tuple[int, np.ndarray]], kind: str, n: int, new: Side | None) -> dict[str, tuple[int, np.ndarray]]:
    out = {}
    for name, (count, buffer) in texts.items():
        if not name.startswith(f"{kind}/") or count != n:
            continue
        if new is None:
            out[name] = (count, buffer)
            continue
        values = new.ids if name == f"{kind}/ids" else new.values[name.split("/", 2)[2]]
        out[name] = (n + new.n, _joined(buffer, n, _text(values) if new.n else None))
    return out


# --------------------------------------------------------------------------- file


def _text(values) -> np.ndarray:  # type: ignore[no-untyped-def]
    strings = ["" if v is None else str(v) for v in values]
    joined = SEPARATOR.join(strings)
    if joined.count(SEPARATOR) != max(len(strings) - 1, 0):
        raise SnapshotError("a value holds the separator character; not kept")
    return np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)


def _strings(buffer: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    out = buffer.tobytes().decode("utf-8").split(SEPARATOR)
    if len(out) != n:
        raise SnapshotError(f"text array holds {len(out)} values, expected {n}")
    return out


def _narrow(codes: np.ndarray) -> np.ndarray:
    """int64 codes as int32 on disk when they fit: half the file to write each night."""
    if len(codes) and int(codes.max()) < np.iinfo(np.int32).max and int(codes.min()) >= 0:
        return codes.astype(np.int32)
    return codes


def _kept_text(kept: dict[str, tuple[int, np.ndarray]], name: str, values: np.ndarray) -> np.ndarray:
    held = kept.get(name)
    return held[1] if held is not None and held[0] == len(values) else _text(values)


def _side_arrays(kind: str, side: Side, out: dict[str, np.ndarray], layout: dict[str, Any],
                 kept: dict[str, tuple[int, np.ndarray]]) -> None:
    out[f"{kind}/ids"] = _kept_text(kept, f"{kind}/ids", side.ids)
    texts = []
    for name, values in side.values.items():
        if values.dtype == object:
            out[f"{kind}/v/{name}"] = _kept_text(kept, f"{kind}/v/{name}", values)
            texts.append(name)
        else:
            out[f"{kind}/v/{name}"] = values
    for name, multi in side.multi.items():
        out[f"{kind}/m/{name}/indptr"] = _narrow(multi.indptr)
        out[f"{kind}/m/{name}/codes"] = _narrow(multi.codes)
    layout[kind] = {"n": side.n, "values": sorted(side.values), "text_values": sorted(texts), "multi": sorted(side.multi)}


def save(snapshot: Snapshot, path: str | Path) -> Path:
    """Write the snapshot to ``path`` (written aside, then renamed: never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, Any] = {}
    for kind in KINDS:
        _side_arrays(kind, snapshot.side(kind), arrays, layout, snapshot.texts)
        arrays[f"{kind}/tokens"] = snapshot.tokens[kind]
    held = snapshot.texts.get("vocab")
    arrays["vocab"] = held[1] if held is not None and held[0] == len(snapshot.vocab) else _text(snapshot.vocab.decode_table())
    arrays["vocab_hashes"], codes = snapshot.vocab.lookup_table()
    arrays["vocab_hash_codes"] = _narrow(codes)
    meta = {"format": FORMAT, "code": code_fingerprint(), "vocab": len(snapshot.vocab), "layout": layout,
            "info": snapshot.info, "dropped": snapshot.dropped}
    arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as fh:
        np.savez(fh, **arrays)
    os.replace(partial, path)
    return path


def read_info(path: str | Path) -> dict[str, Any]:
    """The JSON header of a snapshot file (format, code fingerprint, the caller's info)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(data["meta"].tobytes().decode("utf-8"))
    except Exception as exc:  # as in load()
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc


def load(path: str | Path) -> Snapshot:
    """Read a snapshot; :class:`SnapshotError` when it is of another format or code, or damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT or meta.get("code") != code_fingerprint():
                raise SnapshotError("snapshot written by other preparation code")
            texts = {"vocab": (int(meta["vocab"]), data["vocab"])}
            vocab = Vocabulary.from_strings(_strings(texts["vocab"][1], texts["vocab"][0]),
                                           (data["vocab_hashes"], data["vocab_hash_codes"]))
            sides: dict[str, Side] = {}
            tokens: dict[str, np.ndarray] = {}
            for kind in KINDS:
                shape = meta["layout"][kind]
                n = int(shape["n"])
                values: dict[str, np.ndarray] = {}
                for name in shape["values"]:
                    array = data[f"{kind}/v/{name}"]
                    if name in shape["text_values"]:
                        texts[f"{kind}/v/{name}"] = (n, array)
                    values[name] = np.array(_strings(array, n), dtype=object) if name in shape["text_values"] else array
                    if len(values[name]) != n:
                        raise SnapshotError(f"{kind}.{name}: {len(values[name])} rows, expected {n}")
                multi = {}
                for name in shape["multi"]:
                    m = arrays.loaded(data[f"{kind}/m/{name}/indptr"], data[f"{kind}/m/{name}/codes"], ROOM_SHARE)
                    if m.n != n or (len(m.codes) and int(m.codes.max()) >= len(vocab)):
                        raise SnapshotError(f"{kind}.{name}: damaged")
                    multi[name] = m
                texts[f"{kind}/ids"] = (n, data[f"{kind}/ids"])
                sides[kind] = Side(np.array(_strings(texts[f"{kind}/ids"][1], n), dtype=object), n, values, multi)
                tokens[kind] = data[f"{kind}/tokens"]
                if len(tokens[kind]) != n:
                    raise SnapshotError(f"{kind}: {len(tokens[kind])} tokens, expected {n}")
    except SnapshotError:
        raise
    except Exception as exc:  # numpy, zipfile and json each fail their own way on a damaged file
        raise SnapshotError(f"unreadable snapshot ({type(exc).__name__})") from exc
    return Snapshot(sides["stations"], sides["reports"], vocab, tokens, meta.get("info", {}), int(meta.get("dropped", 0)),
                    texts)
