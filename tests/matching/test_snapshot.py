"""Prepared-record snapshots and focused matching, on generated exchange tables.

A snapshot saved and loaded is the snapshot that was saved; a snapshot refreshed by dropping
and adding rows holds what a snapshot built from scratch on the same rows holds; damaged or
foreign files are refused. Blocking and matching with a focus give exactly the full run's pairs
(and scores, and rankings) that touch the focus, and closed rows are never offered while the
blocking caps still count them.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from xunqin.matching import blocking
from xunqin.matching import snapshot as snapshot_mod
from xunqin.matching.codes import Vocabulary, unique_ints
from xunqin.matching.pipeline import match_prepared
from xunqin.matching.features import Prepared, Side, prepare
from xunqin.matching.settings import Settings, default_settings
from xunqin.matching.snapshot import Snapshot, SnapshotError, build, load, read_info, refresh, save

N_STATIONS, N_REPORTS, SEED = 60, 600, 5
SMALL_CAP = 3  # per-key report cap that many keys of 600 reports exceed
KINDS = ("stations", "reports")
CODE_VALUES = ("name_clean", "id_number", "name_pinyin_first", "home_first")  # single-valued fields holding vocabulary codes


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """Normalized station and report tables, through the exchange files and the ingest code."""
    from xunqin.data.generate import generate, write
    from xunqin.ingest.read import read_table
    from xunqin.ingest.tables import normalize_reports, normalize_stations

    paths = write(generate(N_STATIONS, N_REPORTS, seed=SEED), tmp_path_factory.mktemp("raw"),
                  tables=("stations", "reports"))
    stations, _ = normalize_stations(read_table(paths["stations"], "stations"))
    reports, _ = normalize_reports(read_table(paths["reports"], "reports"))
    assert len(stations) == N_STATIONS and len(reports) == N_REPORTS
    return {"stations": stations.reset_index(drop=True), "reports": reports.reset_index(drop=True)}


@pytest.fixture(scope="module")
def tokens(tables) -> dict[str, np.ndarray]:
    """A database row id per row: distinct, unordered, unrelated to row positions."""
    rng = np.random.default_rng(1)
    return {
        kind: (offset + 7 * rng.permutation(len(tables[kind]))).astype(np.int64)
        for kind, offset in (("stations", 100_000), ("reports", 500_000))
    }


@pytest.fixture(scope="module")
def prepared(tables) -> Prepared:
    return prepare(tables["stations"], tables["reports"])


def _capped(settings: Settings, cap: int | None) -> Settings:
    if cap is None:
        return settings
    return dataclasses.replace(
        settings, blocking=tuple(dataclasses.replace(p, max_reports_per_key=cap) for p in settings.blocking)
    )


@pytest.fixture(scope="module")
def models(prepared):
    """One model trained on the full run; per cap, that model with the cap in its settings
    (blocking does not enter the weights, so both score pairs alike)."""
    model = match_prepared(prepared).model
    return {cap: dataclasses.replace(model, settings=_capped(model.settings, cap)) for cap in (None, SMALL_CAP)}


@pytest.fixture(scope="module")
def full_runs(prepared, models):
    """The full (unfocused, all open) run per cap, with every scored pair."""
    return {cap: match_prepared(prepared, model=model, keep_scored_pairs=True) for cap, model in models.items()}


# --------------------------------------------------------------------------- helpers


def _mask(n: int, share: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n) < share


def _frame(tables, kind: str, rows) -> pd.DataFrame:
    return tables[kind].iloc[sorted(rows)].reset_index(drop=True)


def _decoded(snap: Snapshot, kind: str) -> dict[int, dict[str, object]]:
    """Per token, every field of the row in vocabulary-free form (strings, sets of strings,
    numbers with None for NaN and for a missing code)."""
    side = snap.side(kind)
    table = snap.vocab.decode_table()
    columns: dict[str, list] = {"id": [str(x) for x in side.ids]}
    for name, values in side.values.items():
        if name in CODE_VALUES:
            columns[f"v:{name}"] = [None if c < 0 else table[c] for c in values.tolist()]
        elif values.dtype.kind == "f":
            columns[f"v:{name}"] = [None if np.isnan(x) else x for x in values.tolist()]
        else:
            columns[f"v:{name}"] = values.tolist()
    for name, multi in side.multi.items():
        columns[f"m:{name}"] = [frozenset(table[multi.codes[a:b]].tolist())
                                for a, b in zip(multi.indptr[:-1].tolist(), multi.indptr[1:].tolist())]
    held = snap.tokens[kind].tolist()
    assert len(set(held)) == len(held) == side.n
    assert all(len(column) == side.n for column in columns.values())
    return {token: {f: column[r] for f, column in columns.items()} for r, token in enumerate(held)}


def _name_shares(p: Prepared) -> dict[str, float]:
    table = p.vocab.decode_table()
    return {table[c]: float(f) for c, f in enumerate(p.name_frequency) if f > 0}


def _differing(a: dict, b: dict) -> list:
    """Keys (and for row dicts the fields) that differ, without printing any value."""
    out = sorted(set(a) ^ set(b))
    for key in set(a) & set(b):
        if isinstance(a[key], dict):
            out += [(key, f) for f in sorted(set(a[key]) | set(b[key])) if a[key].get(f, "∅") != b[key].get(f, "∅")]
        elif a[key] != b[key]:
            out.append(key)
    return out


def _assert_same_snapshot(got: Snapshot, want: Snapshot) -> None:
    """Field-by-field equality, codes included (a loaded snapshot is the saved one exactly)."""
    for kind in KINDS:
        g, w = got.side(kind), want.side(kind)
        assert g.n == w.n
        assert g.ids.dtype == object and g.ids.tolist() == w.ids.tolist()
        assert g.values.keys() == w.values.keys() and g.multi.keys() == w.multi.keys()
        for name, values in w.values.items():
            assert g.values[name].dtype == values.dtype, name
            np.testing.assert_array_equal(g.values[name], values, err_msg=f"{kind}.{name}")
        for name, multi in w.multi.items():
            np.testing.assert_array_equal(g.multi[name].indptr, multi.indptr, err_msg=f"{kind}.{name}")
            np.testing.assert_array_equal(g.multi[name].codes, multi.codes, err_msg=f"{kind}.{name}")
        assert got.tokens[kind].dtype == np.int64
        np.testing.assert_array_equal(got.tokens[kind], want.tokens[kind])
    assert got.vocab.decode_table().tolist() == want.vocab.decode_table().tolist()
    assert got.info == want.info
    assert got.dropped == want.dropped


# --------------------------------------------------------------------------- 1. save / load


def _first_night(tables, tokens):  # type: ignore[no-untyped-def]
    """A snapshot built, and the night after it: rows dropped (dead vocabulary entries) and added."""
    first = {"stations": range(0, 45), "reports": range(0, 450)}
    snap = build({k: _frame(tables, k, first[k]) for k in KINDS},
                 {k: tokens[k][sorted(first[k])] for k in KINDS},
                 info={"database": "sqlite:///工作站.db", "night": 3, "nested": {"ok": [1, 2]}})
    drop = {"stations": tokens["stations"][[0, 3, 7]], "reports": tokens["reports"][10:40]}
    add = {k: (_frame(tables, k, range(len(first[k]), len(tables[k]))),
               tokens[k][len(first[k]):]) for k in KINDS}
    return snap, drop, add


@pytest.fixture(scope="module")
def refreshed(tables, tokens) -> Snapshot:
    """A snapshot that has lived a night."""
    snap, drop, add = _first_night(tables, tokens)
    return refresh(snap, drop, add)


def _names(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def _named(path: Path) -> set[str]:
    """The files the manifest names."""
    return {entry["name"] for part in read_info(path)["parts"] for entry in part["files"].values()}


def test_save_load_round_trip(refreshed, tmp_path):
    assert refreshed.dropped == 33 and refreshed.rows == N_STATIONS + N_REPORTS - 33
    path = save(refreshed, tmp_path / "deep" / "prepared")
    assert sorted(p.name for p in path.parent.iterdir()) == ["prepared"]
    header = read_info(path)
    assert len(header["parts"]) == 1
    assert _names(path) == _named(path) | {"snapshot.json"}
    assert _named(path) == {f"{k}-{header['parts'][0]['save']}.arrow" for k in ("stations", "reports", "vocabulary")}
    loaded = load(path)
    _assert_same_snapshot(loaded, refreshed)
    assert loaded.side("stations").values["name_kind"].dtype == object
    assert header["format"] == snapshot_mod.FORMAT and header["code"] == snapshot_mod.code_fingerprint()
    assert header["info"] == refreshed.info


def test_save_load_round_trip_with_an_empty_side(tables, tokens, tmp_path):
    snap = build({"stations": tables["stations"].iloc[:0], "reports": tables["reports"].iloc[:5]},
                 {"stations": np.zeros(0, dtype=np.int64), "reports": tokens["reports"][:5]})
    loaded = load(save(snap, tmp_path / "p"))
    _assert_same_snapshot(loaded, snap)
    assert loaded.stations.n == 0


def test_loaded_snapshot_matches_like_the_saved_one(refreshed, models, tmp_path):
    loaded = load(save(refreshed, tmp_path / "p"))
    before = match_prepared(refreshed.prepared(), model=models[None]).candidates
    after = match_prepared(loaded.prepared(), model=models[None]).candidates
    assert len(before)
    pd.testing.assert_frame_equal(after, before)


def _row(side: Side, r: int) -> dict[str, object]:
    out: dict[str, object] = {"id": side.ids[r]}
    for name, values in side.values.items():
        x = values[r]
        out[f"v:{name}"] = None if isinstance(x, float) and np.isnan(x) else x
    for name, m in side.multi.items():
        out[f"m:{name}"] = m.codes[m.indptr[r]:m.indptr[r + 1]].tolist()  # same vocabulary: codes, in order
    return out


TAKES = {"mixed": [5, 0, 5, 3, 59], "tail": [59, 58], "none": [], "all": list(range(N_STATIONS))}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rows", list(TAKES.values()), ids=list(TAKES))
def test_take_and_append_keep_each_row(prepared, kind, rows):
    side = prepared.stations if kind == "stations" else prepared.reports
    taken = side.take(np.array(rows, dtype=np.int64))
    assert taken.n == len(rows) and all(m.n == len(rows) for m in taken.multi.values())
    assert [_row(taken, k) for k in range(taken.n)] == [_row(side, r) for r in rows]
    more = [1, 2, 7]
    joined = taken.append(side.take(np.array(more)))
    assert joined.n == len(rows) + len(more)
    assert [_row(joined, k) for k in range(joined.n)] == [_row(side, r) for r in rows + more]
    assert all(int(m.indptr[-1]) == len(m.codes) for m in joined.multi.values())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("start, stop", [(0, 10), (7, 23), (50, 200), (3, 3)])
def test_a_row_range_of_a_side_holds_those_rows(prepared, kind, start, stop):
    side = prepared.stations if kind == "stations" else prepared.reports
    got = side.row_range(start, stop)
    rows = list(range(start, min(stop, side.n)))
    assert got.n == len(rows) and all(m.n == len(rows) for m in got.multi.values())
    assert all(len(v) == len(rows) for v in got.values.values()) and len(got.ids) == len(rows)
    assert [_row(got, k) for k in range(got.n)] == [_row(side, r) for r in rows]


KEEPS = {  # per piece of the side (rows a..b): None (every row) or a rule for the rows kept
    "drop_some": [(0, 60, lambda r: r % 7 != 3), (10, 15, None)],
    "all_dropped": [(0, 30, lambda r: False), (30, 60, None)],
    "three_pieces": [(0, 20, None), (20, 20, None), (20, 60, lambda r: r % 2 == 0), (5, 9, lambda r: r != 6)],
    "one_piece_masked": [(0, 60, lambda r: r < 40 or r == 59)],
    "views": [(3, 50, lambda r: r % 5 != 0)],  # a row range: its codes are a view past its own rows
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pieces", list(KEEPS.values()), ids=list(KEEPS))
def test_sides_joined_with_rows_left_out_hold_the_rows_kept(prepared, kind, pieces):
    side = prepared.stations if kind == "stations" else prepared.reports
    parts = [side.row_range(a, b) for a, b, _ in pieces]
    keep = [None if rule is None else np.array([rule(r) for r in range(a, b)], dtype=bool) for a, b, rule in pieces]
    got = Side.concat(parts, keep)
    want = [r for a, b, rule in pieces for r in range(a, b) if rule is None or rule(r)]
    assert got.n == len(want) and all(m.n == len(want) for m in got.multi.values())
    assert [_row(got, k) for k in range(got.n)] == [_row(side, r) for r in want]
    assert all(int(m.indptr[-1]) == len(m.codes) for m in got.multi.values())
    assert {k: v.dtype for k, v in got.values.items()} == {k: v.dtype for k, v in side.values.items()}


def test_a_keep_that_does_not_fit_the_rows_is_refused(prepared):
    side = prepared.stations.take(np.arange(4))
    for keep in ([np.ones(3, dtype=bool)], [np.ones(4, dtype=np.int64)], [None, None]):
        with pytest.raises(ValueError):
            Side.concat([side], keep)


def test_append_refuses_sides_with_other_fields(prepared):
    with pytest.raises(ValueError):
        prepared.stations.take(np.arange(2)).append(prepared.reports.take(np.arange(2)))


# --------------------------------------------------------------------------- 2. refresh


def _part(n: int, lo: float, hi: float, step: int = 1) -> set[int]:
    return set(range(int(n * lo), int(n * hi), step))


# per scenario, from a table's row count: (rows built, [(rows dropped, rows added) per refresh]);
# rows are positions in the generated tables, given as shares so both kinds share the plan
SCENARIOS = {
    # a night: a few old rows leave, new rows arrive
    "drop_and_add": lambda n: (_part(n, 0, 0.7), [(_part(n, 0.1, 0.7, 4), _part(n, 0.7, 1))]),
    # everything built at once, then rows leave (a changed record's old version)
    "drop_only": lambda n: (_part(n, 0, 1), [(_part(n, 0, 1, 5), set())]),
    "add_only": lambda n: (_part(n, 0, 0.5), [(set(), _part(n, 0.5, 1))]),
    # two nights in a row, the second dropping rows the first added
    "two_nights": lambda n: (_part(n, 0, 0.5), [(_part(n, 0, 0.5, 6), _part(n, 0.5, 0.8)),
                                                 (_part(n, 0.5, 0.8, 3) | {1, 2}, _part(n, 0.8, 1))]),
    # every old row leaves
    "replace_all": lambda n: (_part(n, 0, 0.4), [(_part(n, 0, 0.4), _part(n, 0.4, 1))]),
    # more nights than a snapshot holds parts: through the file, saves write the whole again
    # (each night some built rows leave, and a third of the night before's)
    "eleven_nights": lambda n: (_part(n, 0, 0.45), [
        (set(range(k, int(n * 0.45), 11)) | (_part(n, 0.4 + 0.05 * k, 0.45 + 0.05 * k, 3) if k else set()),
         _part(n, 0.45 + 0.05 * k, 0.5 + 0.05 * k)) for k in range(11)]),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_refresh_equals_build_from_scratch(tables, tokens, scenario):
    plans = {k: SCENARIOS[scenario](len(tables[k])) for k in KINDS}
    held = {k: set(plans[k][0]) for k in KINDS}
    snap = build({k: _frame(tables, k, held[k]) for k in KINDS}, {k: tokens[k][sorted(held[k])] for k in KINDS})
    dropped = 0
    for night in range(len(plans["stations"][1])):
        drop, add = {}, {}
        for k in KINDS:
            gone, new = plans[k][1][night]
            assert gone <= held[k] and not new & held[k]
            drop[k] = tokens[k][sorted(gone)]
            add[k] = (_frame(tables, k, new), tokens[k][sorted(new)])
            held[k] = (held[k] - gone) | new
            dropped += len(gone)
        snap = refresh(snap, drop, add)
    scratch = build({k: _frame(tables, k, held[k]) for k in KINDS}, {k: tokens[k][sorted(held[k])] for k in KINDS})

    assert snap.dropped == dropped
    for kind in KINDS:
        assert snap.side(kind).n == len(held[kind])
        got, want = _decoded(snap, kind), _decoded(scratch, kind)
        assert set(want) == set(tokens[kind][sorted(held[kind])].tolist())
        assert not _differing(got, want), f"{kind}: (token, field) differing: {_differing(got, want)[:10]}"
    got_p, want_p = snap.prepared(), scratch.prepared()
    assert got_p.tf_floor == want_p.tf_floor == 1.0 / len(held["reports"])
    assert len(got_p.name_frequency) == len(snap.vocab)
    got_shares, want_shares = _name_shares(got_p), _name_shares(want_p)
    assert len(want_shares) > 100
    assert not _differing(got_shares, want_shares), f"{len(_differing(got_shares, want_shares))} names differ"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_nights_through_the_file_equal_a_build_from_scratch(tables, tokens, scenario, tmp_path):
    """As a night does it: load, refresh, save over the snapshot read."""
    plans = {k: SCENARIOS[scenario](len(tables[k])) for k in KINDS}
    held = {k: set(plans[k][0]) for k in KINDS}
    path = save(build({k: _frame(tables, k, held[k]) for k in KINDS}, {k: tokens[k][sorted(held[k])] for k in KINDS}),
                tmp_path / "p")
    for night in range(len(plans["stations"][1])):
        drop, add = {}, {}
        for k in KINDS:
            gone, new = plans[k][1][night]
            drop[k] = tokens[k][sorted(gone)]
            add[k] = (_frame(tables, k, new), tokens[k][sorted(new)])
            held[k] = (held[k] - gone) | new
        snap = refresh(load(path), drop, add)
        path = save(snap, path)
        _assert_same_snapshot(load(path), snap)
        parts = read_info(path)["parts"]
        # a part per night, and the whole as one part once the snapshot read held MAX_PARTS
        assert len(parts) == (night + 1) % snapshot_mod.MAX_PARTS + 1
        assert _names(path) == _named(path) | {"snapshot.json"}  # an earlier save's files are gone
    scratch = build({k: _frame(tables, k, held[k]) for k in KINDS}, {k: tokens[k][sorted(held[k])] for k in KINDS})
    final = load(path)
    for kind in KINDS:
        got, want = _decoded(final, kind), _decoded(scratch, kind)
        assert not _differing(got, want), f"{kind}: (token, field) differing: {_differing(got, want)[:10]}"


def test_refreshed_snapshot_compares_names_as_a_fresh_build():
    from xunqin.matching import compare

    stations = pd.DataFrame({"record_id": ["S1"], "name_clean": ["曾伟"], "name_kind": ["full"],
                             "name_pinyin": ["zeng wei"], "gender": ["男"]})
    reports = pd.DataFrame({"report_id": ["R1", "R2"], "name_clean": ["曾文", "曾问"],
                            "name_pinyin": ["zeng wen", "zeng wen|ceng wen"], "gender": ["男", "男"]})
    tokens = {"stations": np.array([1]), "reports": np.array([1, 2])}
    scratch = build({"stations": stations, "reports": reports}, tokens)
    night = refresh(build({"stations": stations, "reports": reports.iloc[:1]},
                          {"stations": tokens["stations"], "reports": tokens["reports"][:1]}),
                    {}, {"reports": (reports.iloc[1:], tokens["reports"][1:])})
    settings = default_settings()
    levels = [compare.compare(compare.context(snap.prepared()), settings, np.array([0, 0]), np.array([0, 1]))
              for snap in (night, scratch)]
    np.testing.assert_array_equal(levels[0], levels[1])


def test_refresh_refuses_tokens_that_do_not_fit_the_rows(tables, tokens):
    snap = build({k: _frame(tables, k, range(5)) for k in KINDS}, {k: tokens[k][:5] for k in KINDS})
    with pytest.raises(ValueError, match="tokens"):
        refresh(snap, {}, {"reports": (_frame(tables, "reports", range(5, 8)), tokens["reports"][5:7])})


# --------------------------------------------------------------------------- 3. refused files


def _file_name(good: Path, name: str, part: int) -> str:
    return json.loads((good / snapshot_mod.MANIFEST).read_text())["parts"][part]["files"][name]["name"]


def _copy(good: Path, out: Path, change=None) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the snapshot folder ``good``; ``change(file name, body)`` gives each file's bytes."""
    out.mkdir()
    for f in good.iterdir():
        body = f.read_bytes()
        (out / f.name).write_bytes(body if change is None else change(f.name, body))
    return out


def _bytes(name: str, make, part: int = -1):  # type: ignore[no-untyped-def]
    """A damage to the bytes of file ``name`` (``stations``, ``reports`` or ``vocabulary``) of
    the part ``part``."""

    def damage(good: Path, out: Path) -> Path:
        target = _file_name(good, name, part)
        return _copy(good, out, lambda file, body: make(body) if file == target else body)

    return damage


def _manifest(change=None, text=None):  # type: ignore[no-untyped-def]
    """A manifest changed in place by ``change(header)``, or replaced by ``text``."""

    def damage(good: Path, out: Path) -> Path:
        _copy(good, out)
        header = json.loads((good / snapshot_mod.MANIFEST).read_text())
        if change is not None:
            change(header)
        (out / snapshot_mod.MANIFEST).write_bytes(json.dumps(header).encode() if text is None else text)
        return out

    return damage


def _content(name: str, change, part: int = -1):  # type: ignore[no-untyped-def]
    """A damage to what file ``name`` of part ``part`` holds, written back as a valid Feather
    file whose size and CRC the manifest then names (so that the checks of what it holds must
    refuse it): ``change(table, header)`` returns the table to write."""

    def damage(good: Path, out: Path) -> Path:
        _copy(good, out)
        header = json.loads((good / snapshot_mod.MANIFEST).read_text())
        entry = header["parts"][part]["files"][name]
        table = change(feather.read_table(good / entry["name"]), header)
        feather.write_feather(table, out / entry["name"], compression="uncompressed")
        body = (out / entry["name"]).read_bytes()
        entry.update(bytes=len(body), crc32=zlib.crc32(body))
        (out / snapshot_mod.MANIFEST).write_text(json.dumps(header))
        return out

    return damage


def _set(table: pa.Table, name: str, array) -> pa.Table:  # type: ignore[no-untyped-def]
    return table.set_column(table.column_names.index(name), name, array)


def _codes_past_vocab(table: pa.Table, header: dict) -> pa.Table:
    column = table.column("m:name_all").combine_chunks()
    codes = np.asarray(column.values).copy()
    codes[0] = header["vocabulary"]
    return _set(table, "m:name_all", pa.ListArray.from_arrays(column.offsets, pa.array(codes)))


def _flip_bit(body: bytes) -> bytes:
    """One bit flipped inside the column pages (the file still parses: only the checksums tell)."""
    at = len(body) // 3
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]


def _departs_its_own_row(good: Path, out: Path) -> Path:
    """The night's part names one of its own rows among those that left."""
    _copy(good, out)
    header = json.loads((good / snapshot_mod.MANIFEST).read_text())
    night = header["parts"][-1]
    token = feather.read_table(good / night["files"]["reports"]["name"]).column("token")[0].as_py()
    night["gone"]["reports"].append(token)
    (out / snapshot_mod.MANIFEST).write_text(json.dumps(header))
    return out


def _repeats_an_earlier_string(good: Path, out: Path) -> Path:
    """The night's vocabulary holds a string the first part's holds already."""
    first = feather.read_table(good / _file_name(good, "vocabulary", 0)).column("string")[0].as_py()
    strings = lambda t, h: _set(t, "string", pa.array([first] + t.column("string").to_pylist()[1:]))  # noqa: E731
    return _content("vocabulary", strings)(good, out)


def _part_files(part: int, change):  # type: ignore[no-untyped-def]
    return lambda h: change(h["parts"][part]["files"])


DAMAGES = {
    "truncated_half": _bytes("reports", lambda b: b[: len(b) // 2], part=0),
    "truncated_tail": _bytes("vocabulary", lambda b: b[:-20]),
    "garbage": _bytes("stations", lambda b: np.random.default_rng(0).bytes(len(b))),
    "empty": _bytes("reports", lambda b: b""),
    "text": _bytes("stations", lambda b: "station_record_id,report_id\n".encode(), part=0),
    "bit_flipped_reports": _bytes("reports", _flip_bit, part=0),
    "bit_flipped_night_reports": _bytes("reports", _flip_bit),
    "bit_flipped_vocabulary": _bytes("vocabulary", _flip_bit, part=0),
    "missing_folder": lambda good, out: out,
    "missing_file": lambda good, out: (_copy(good, out), (out / _file_name(good, "stations", 0)).unlink(), out)[2],
    "missing_night_file": lambda good, out: (_copy(good, out), (out / _file_name(good, "vocabulary", -1)).unlink(), out)[2],
    "missing_manifest": lambda good, out: (_copy(good, out), (out / "snapshot.json").unlink(), out)[2],
    "manifest_not_json": _manifest(text=b"{format"),
    "manifest_not_object": _manifest(text=b"[1, 2]"),
    "manifest_without_parts": _manifest(lambda h: h.pop("parts")),
    "manifest_with_no_part": _manifest(lambda h: h.update(parts=[])),
    "manifest_without_the_night": _manifest(lambda h: h["parts"].pop()),
    "manifest_without_the_first_part": _manifest(lambda h: h["parts"].pop(0)),
    "manifest_not_utf8": _manifest(text=b"\xff\xfe{}"),
    "other_format": _manifest(lambda h: h.update(format="xunqin-prepared/4")),
    "file_of_another_kind": _manifest(_part_files(-1, lambda f: f.update(stations=f["reports"]))),
    "file_of_another_part": _manifest(lambda h: h["parts"][1]["files"].update(reports=h["parts"][0]["files"]["reports"])),
    "file_name_with_a_folder": _manifest(_part_files(0, lambda f: f["stations"].update(name="../stations.arrow"))),
    "file_name_not_text": _manifest(_part_files(0, lambda f: f["stations"].update(name=7))),
    "crc_off": _manifest(_part_files(-1, lambda f: f["vocabulary"].update(crc32=f["vocabulary"]["crc32"] ^ 1))),
    "part_rows_off": _manifest(lambda h: h["parts"][-1]["rows"].update(reports=h["parts"][-1]["rows"]["reports"] + 1)),
    "rows_off": _manifest(lambda h: h["rows"].update(stations=h["rows"]["stations"] - 1)),
    "departed_row_not_held": _manifest(lambda h: h["parts"][-1]["gone"]["reports"].append(10**9)),
    "departed_row_of_the_same_part": _departs_its_own_row,
    "departed_rows_as_text": _manifest(lambda h: h["parts"][-1]["gone"].update(stations="1,2,3")),
    "departed_rows_missing": _manifest(lambda h: h["parts"][-1].pop("gone")),
    "vocab_total_off": _manifest(lambda h: h.update(vocabulary=h["vocabulary"] + 1)),
    "vocab_count_off": _content("vocabulary", lambda t, h: t.slice(0, t.num_rows - 1)),
    "vocab_repeats": _content("vocabulary", lambda t, h: _set(t, "string", pa.array(["x"] * t.num_rows)), part=0),
    "vocab_repeats_an_earlier_part": _repeats_an_earlier_string,
    "row_count_off": _content("stations", lambda t, h: t.slice(1)),
    "codes_past_vocab": _content("reports", _codes_past_vocab),
    "column_missing": _content("stations", lambda t, h: t.drop_columns(["v:height"])),
    "unknown_column": _content("stations", lambda t, h: t.append_column("extra", pa.array(np.zeros(t.num_rows)))),
    "value_as_text": _content("stations", lambda t, h: _set(t, "v:height", pa.array(["1.0"] * t.num_rows))),
    "nulls_in_a_value": _content("reports", lambda t, h: _set(t, "v:gender", pa.nulls(t.num_rows, pa.int8()))),
    "bytes_for_a_text": _content("stations", lambda t, h: _set(
        t, "t:name_kind", pa.array([b"\x80\x04\x95"] * t.num_rows, type=pa.binary()))),
}


@pytest.fixture(scope="module")
def good_file(tables, tokens, refreshed, tmp_path_factory) -> Path:
    """``refreshed`` as a night leaves it in its folder: the built snapshot's part and the night's."""
    snap, drop, add = _first_night(tables, tokens)
    path = save(snap, tmp_path_factory.mktemp("good") / "prepared")
    night = refresh(load(path), drop, add)
    save(night, path)
    assert len(read_info(path)["parts"]) == 2
    _assert_same_snapshot(load(path), refreshed)
    return path


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_load_refuses_a_damaged_file(good_file, refreshed, tmp_path, damage):
    bad = DAMAGES[damage](good_file, tmp_path / "bad")
    with pytest.raises(SnapshotError):
        load(bad)
    _assert_same_snapshot(load(good_file), refreshed)  # the damage was done to a copy


def test_load_refuses_a_file_written_by_other_code(good_file, monkeypatch):
    monkeypatch.setattr(snapshot_mod, "code_fingerprint", lambda: "0123456789abcdef")
    with pytest.raises(SnapshotError, match="other preparation code"):
        load(good_file)
    assert read_info(good_file)["code"] != "0123456789abcdef"  # the header still reads
    monkeypatch.undo()
    load(good_file)


@pytest.mark.parametrize("old", ["parquet_format_3", "one_part_format_4"])
def test_a_snapshot_of_an_earlier_format_is_refused_and_replaced(refreshed, tmp_path, old):
    """Formats 3 (Parquet files, no manifest) and 4 (one Feather file per kind) are refused,
    and their files, which hold the same personal data, removed by the next save."""
    path = tmp_path / "prepared"
    path.mkdir()
    if old == "parquet_format_3":
        names = ["stations.parquet", "reports.parquet", "vocabulary.parquet"]
    else:
        names = ["stations.arrow", "reports.arrow", "vocabulary.arrow"]
        (path / "snapshot.json").write_text(json.dumps({"format": "xunqin-prepared/4", "files": {}}))
    for name in names:
        (path / name).write_bytes(b"personal data")
    with pytest.raises(SnapshotError):
        load(path)
    save(refreshed, path)
    assert _names(path) == _named(path) | {"snapshot.json"} and not set(names) & _names(path)
    _assert_same_snapshot(load(path), refreshed)


def test_a_save_removes_only_its_own_kinds_of_file(refreshed, tmp_path):
    path = tmp_path / "prepared"
    path.mkdir()
    (path / "notes.txt").write_text("a person's own file")
    save(refreshed, path)
    assert "notes.txt" in _names(path)


def test_read_info_refuses_garbage(tmp_path):
    path = tmp_path / "x"
    path.mkdir()
    (path / "snapshot.json").write_bytes(b"not a manifest at all")
    with pytest.raises(SnapshotError):
        read_info(path)


def _with_id(snap: Snapshot, kind: str, value: str) -> Snapshot:
    side = snap.side(kind)
    ids = side.ids.copy()
    ids[1] = value
    new = Side(ids, side.n, side.values, side.multi)
    return dataclasses.replace(snap, **{kind: new})


def _with_name_kind(snap: Snapshot, value: str | None) -> Snapshot:
    side = snap.stations
    kinds = side.values["name_kind"].copy()
    kinds[0] = value
    return dataclasses.replace(snap, stations=Side(side.ids, side.n, {**side.values, "name_kind": kinds}, side.multi))


def _with_vocab_string(snap: Snapshot, value: str) -> Snapshot:
    return dataclasses.replace(snap, vocab=Vocabulary.from_strings(snap.vocab.decode_table().tolist() + [value]))


ODD_STRINGS = {  # characters a joined-text format would have tripped on, and an empty text
    "station_id": lambda s: _with_id(s, "stations", "S1\x1fS2"),
    "report_id": lambda s: _with_id(s, "reports", "\x00|,\n"),
    "text_value": lambda s: _with_name_kind(s, "full\x1f"),
    "missing_text_value": lambda s: _with_name_kind(s, None),
    "vocabulary": lambda s: _with_vocab_string(s, "王\x1f\x00"),
}


@pytest.mark.parametrize("case", sorted(ODD_STRINGS))
def test_any_string_round_trips(refreshed, tmp_path, case):
    odd = ODD_STRINGS[case](refreshed)
    _assert_same_snapshot(load(save(odd, tmp_path / "prepared")), odd)


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_failed_save_leaves_the_snapshot_before_it_whole(tables, tokens, refreshed, tmp_path, monkeypatch, failing):
    """A night's save cut short (disk full at its ``failing``-th file) leaves the folder as the
    night before left it; the next save removes what the cut one wrote."""
    snap, drop, add = _first_night(tables, tokens)
    good = save(snap, tmp_path / "prepared")
    before = _names(good)
    real = snapshot_mod.feather.write_feather
    written = []

    def broken(table, where, **options):  # type: ignore[no-untyped-def]
        written.append(where)
        if len(written) == failing:  # this file fails half-way
            Path(where).write_bytes(b"ARROW1 half a file")
            raise OSError("disk full")
        real(table, where, **options)

    monkeypatch.setattr(snapshot_mod.feather, "write_feather", broken)
    with pytest.raises(OSError):
        save(refresh(load(good), drop, add), good)
    monkeypatch.undo()
    assert len(read_info(good)["parts"]) == 1
    _assert_same_snapshot(load(good), snap)
    assert not any(name.endswith(".partial") for name in _names(good))
    assert len(_names(good) - before) == failing - 1  # the files that went through, named by no manifest
    save(refresh(load(good), drop, add), good)
    _assert_same_snapshot(load(good), refreshed)
    assert _names(good) == _named(good) | {"snapshot.json"}


def test_a_night_writes_only_its_part(tables, tokens, refreshed, tmp_path):
    snap, drop, add = _first_night(tables, tokens)
    path = save(snap, tmp_path / "prepared")
    first = {name: (path / name).read_bytes() for name in _named(path)}
    night = refresh(load(path), drop, add)
    save(night, path)
    parts = read_info(path)["parts"]
    assert len(parts) == 2
    assert {name: (path / name).read_bytes() for name in first} == first  # untouched
    assert parts[1]["rows"] == {k: len(add[k][0]) for k in KINDS}
    assert sorted(parts[1]["gone"]["reports"]) == sorted(drop["reports"].tolist())
    assert parts[1]["vocabulary"] == len(night.vocab) - len(snap.vocab) > 0
    _assert_same_snapshot(load(path), refreshed)


def test_a_compressed_snapshot_of_earlier_code_is_read_and_grows_uncompressed(tables, tokens, refreshed, tmp_path,
                                                                             monkeypatch):
    """Earlier code wrote LZ4 files: the next night reads them (mapped, decompressed as read)
    and adds its part as files read in place."""
    snap, drop, add = _first_night(tables, tokens)
    monkeypatch.setattr(snapshot_mod, "COMPRESSION", "lz4")
    path = save(snap, tmp_path / "prepared")
    monkeypatch.undo()
    compressed = {name: (path / name).stat().st_size for name in _named(path)}
    _assert_same_snapshot(load(path), snap)
    save(refresh(load(path), drop, add), path)
    _assert_same_snapshot(load(path), refreshed)
    again = tmp_path / "again"
    save(snap, again)  # the same rows, as this code writes them: larger than LZ4's
    assert sum((again / name).stat().st_size for name in _named(again)) > sum(compressed.values())


def test_nights_refreshed_twice_before_a_save(tables, tokens, tmp_path):
    """Two refreshes, the second dropping rows the first added (not in any part) and rows of
    the part: one save writes what both left."""
    n = {k: len(tables[k]) for k in KINDS}
    base = {k: range(0, n[k] // 2) for k in KINDS}
    one = {k: range(n[k] // 2, 3 * n[k] // 4) for k in KINDS}
    two = {k: range(3 * n[k] // 4, n[k]) for k in KINDS}
    path = save(build({k: _frame(tables, k, base[k]) for k in KINDS}, {k: tokens[k][base[k]] for k in KINDS}),
                tmp_path / "prepared")
    snap = refresh(load(path), {k: tokens[k][[1, 2]] for k in KINDS},
                   {k: (_frame(tables, k, one[k]), tokens[k][one[k]]) for k in KINDS})
    snap = refresh(snap, {k: tokens[k][[3, one[k][0], one[k][2]]] for k in KINDS},
                   {k: (_frame(tables, k, two[k]), tokens[k][two[k]]) for k in KINDS})
    save(snap, path)
    assert len(read_info(path)["parts"]) == 2
    _assert_same_snapshot(load(path), snap)
    kept = {k: sorted(set(range(n[k])) - {1, 2, 3, one[k][0], one[k][2]}) for k in KINDS}
    scratch = build({k: _frame(tables, k, kept[k]) for k in KINDS}, {k: tokens[k][kept[k]] for k in KINDS})
    for kind in KINDS:
        assert not _differing(_decoded(load(path), kind), _decoded(scratch, kind))


def test_another_save_in_between_makes_the_next_save_whole(tables, tokens, refreshed, tmp_path):
    snap, drop, add = _first_night(tables, tokens)
    path = save(snap, tmp_path / "prepared")
    read_first = load(path)
    save(refresh(load(path), {}, {}), path)  # another process's save
    save(refresh(read_first, drop, add), path)  # the folder no longer holds what it read
    assert len(read_info(path)["parts"]) == 1
    _assert_same_snapshot(load(path), refreshed)


def test_a_loaded_snapshot_saved_elsewhere_is_saved_whole(good_file, refreshed, tmp_path):
    path = save(refresh(load(good_file), {}, {}), tmp_path / "elsewhere")
    assert len(read_info(path)["parts"]) == 1
    _assert_same_snapshot(load(path), refreshed)


# --------------------------------------------------------------------------- 4. focused blocking


# (station focus, report focus) per choice, from the row counts
FOCUS = {
    "stations": lambda ns, nr: (_mask(ns, 0.25, 11), None),
    "reports": lambda ns, nr: (None, _mask(nr, 0.15, 12)),
    "both": lambda ns, nr: (_mask(ns, 0.2, 13), _mask(nr, 0.1, 14)),
    "empty_both": lambda ns, nr: (np.zeros(ns, bool), np.zeros(nr, bool)),
    "empty_stations": lambda ns, nr: (np.zeros(ns, bool), None),
    "empty_reports": lambda ns, nr: (None, np.zeros(nr, bool)),
    "all_both": lambda ns, nr: (np.ones(ns, bool), np.ones(nr, bool)),
    "all_stations": lambda ns, nr: (np.ones(ns, bool), None),
    "all_reports": lambda ns, nr: (None, np.ones(nr, bool)),
}
PASSES = [p.name for p in default_settings().blocking]
CAPS = {"default_caps": None, f"cap_{SMALL_CAP}": SMALL_CAP}


def _touches(codes: np.ndarray, n_reports: int, station_focus, report_focus) -> np.ndarray:
    s, r = codes // n_reports, codes % n_reports
    keep = np.zeros(len(codes), dtype=bool)
    if station_focus is not None:
        keep |= station_focus[s]
    if report_focus is not None:
        keep |= report_focus[r]
    return keep


def _spec(name: str, cap: int | None):  # type: ignore[no-untyped-def]
    (spec,) = [p for p in _capped(default_settings(), cap).blocking if p.name == name]
    return spec


def test_small_cap_skips_keys(prepared):
    """The capped settings below do exercise the cap (else the cap cases prove nothing)."""
    stats = [blocking.pass_pair_codes(prepared.stations, prepared.reports, p)[1]
             for p in _capped(default_settings(), SMALL_CAP).blocking]
    assert sum(s.skipped_keys for s in stats) > 50
    assert sum(s.skipped_station_rows > 0 for s in stats) >= 5


@pytest.mark.parametrize("cap", list(CAPS.values()), ids=list(CAPS))
@pytest.mark.parametrize("focus", sorted(FOCUS))
@pytest.mark.parametrize("pass_name", PASSES)
def test_focused_pass_equals_full_pass_restricted(prepared, pass_name, focus, cap):
    st, rp = prepared.stations, prepared.reports
    spec = _spec(pass_name, cap)
    station_focus, report_focus = FOCUS[focus](st.n, rp.n)
    full, full_stats = blocking.pass_pair_codes(st, rp, spec)
    got, stats = blocking.pass_pair_codes(st, rp, spec, station_focus=station_focus, report_focus=report_focus)
    want = full[_touches(full, rp.n, station_focus, report_focus)]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)  # sorted and distinct, as the full call's
    assert (stats.name, stats.pairs) == (full_stats.name, len(want))
    # a focused call sees only the keys the focus holds: never more skipped than the full call
    assert stats.skipped_keys <= full_stats.skipped_keys
    assert stats.skipped_station_rows <= full_stats.skipped_station_rows


@pytest.mark.parametrize("cap", list(CAPS.values()), ids=list(CAPS))
@pytest.mark.parametrize("focus", sorted(FOCUS))
def test_focused_index_equals_full_index_restricted(prepared, focus, cap):
    settings = _capped(default_settings(), cap)
    station_focus, report_focus = FOCUS[focus](prepared.stations.n, prepared.reports.n)
    full = blocking.index(prepared, settings)
    got = blocking.index(prepared, settings, station_focus, report_focus)
    n = prepared.reports.n
    full_codes = full.station_rows * n + full.report_rows
    want = full_codes[_touches(full_codes, n, station_focus, report_focus)]
    np.testing.assert_array_equal(got.station_rows * n + got.report_rows, want)
    assert got.pass_codes.keys() == full.pass_codes.keys()
    for name, codes in full.pass_codes.items():
        np.testing.assert_array_equal(got.pass_codes[name], codes[_touches(codes, n, station_focus, report_focus)])


# --------------------------------------------------------------------------- 5. focused matching


def _pairs(scored: pd.DataFrame) -> pd.DataFrame:
    return scored.sort_values(["station_row", "report_row"]).reset_index(drop=True)


def _restricted(scored: pd.DataFrame, station_ok, report_ok, station_focus=None, report_focus=None) -> pd.DataFrame:
    s, r = scored["station_row"].to_numpy(), scored["report_row"].to_numpy()
    keep = np.ones(len(scored), dtype=bool)
    if station_focus is not None or report_focus is not None:
        keep &= _touches(s * N_REPORTS + r, N_REPORTS, station_focus, report_focus)
    if station_ok is not None:
        keep &= station_ok[s]
    if report_ok is not None:
        keep &= report_ok[r]
    return _pairs(scored[keep])


def _candidates_of(candidates: pd.DataFrame, station_ids) -> pd.DataFrame:
    out = candidates[candidates["station_record_id"].isin(set(station_ids))]
    return out.sort_values(["station_record_id", "rank"]).reset_index(drop=True)


MATCH_FOCUS = ("stations", "reports", "both")


@pytest.mark.parametrize("cap", list(CAPS.values()), ids=list(CAPS))
@pytest.mark.parametrize("focus", MATCH_FOCUS)
def test_focused_match_equals_full_match_restricted(prepared, models, full_runs, focus, cap):
    station_focus, report_focus = FOCUS[focus](prepared.stations.n, prepared.reports.n)
    full = full_runs[cap]
    got = match_prepared(prepared, model=models[cap], keep_scored_pairs=True,
                         station_focus=station_focus, report_focus=report_focus)
    want_pairs = _restricted(full.scored_pairs, None, None, station_focus, report_focus)
    assert len(want_pairs) > 10
    pd.testing.assert_frame_equal(_pairs(got.scored_pairs), want_pairs, check_exact=True)
    if station_focus is not None:
        # a focused station record meets every report it would meet in the full run
        focused_ids = prepared.stations.ids[station_focus]
        want = _candidates_of(full.candidates, focused_ids)
        assert want["station_record_id"].nunique() >= 5
        pd.testing.assert_frame_equal(_candidates_of(got.candidates, focused_ids), want, check_exact=True)
    # nothing outside the focus is offered
    rows = got.scored_pairs
    assert _touches(rows["station_row"].to_numpy() * N_REPORTS + rows["report_row"].to_numpy(), N_REPORTS,
                    station_focus, report_focus).all()


# --------------------------------------------------------------------------- 6. closed rows


def _blocked_without(prepared: Prepared, settings: Settings, report_open: np.ndarray) -> set[tuple[int, int]]:
    """The pairs blocking would give if closed reports were left out of the tables (so out of
    the caps' counts too), in the full tables' row numbers."""
    rows = np.flatnonzero(report_open)
    reports = prepared.reports.take(rows)
    codes = unique_ints(np.concatenate(
        [blocking.pass_pair_codes(prepared.stations, reports, spec)[0] for spec in settings.blocking]))
    return set(zip((codes // reports.n).tolist(), rows[codes % reports.n].tolist()))


@pytest.mark.parametrize("focus", [None, "both", "reports"])
def test_closed_rows_are_never_offered_but_still_counted(prepared, models, full_runs, focus):
    model, full = models[SMALL_CAP], full_runs[SMALL_CAP]
    st, rp = prepared.stations, prepared.reports
    station_open, report_open = _mask(st.n, 0.8, 21), _mask(rp.n, 0.6, 22)
    station_focus, report_focus = FOCUS[focus](st.n, rp.n) if focus else (None, None)
    got = match_prepared(prepared, model=model, keep_scored_pairs=True, station_focus=station_focus,
                         report_focus=report_focus, station_open=station_open, report_open=report_open)
    want = _restricted(full.scored_pairs, station_open, report_open, station_focus, report_focus)
    assert len(want) > 10
    pd.testing.assert_frame_equal(_pairs(got.scored_pairs), want, check_exact=True)

    candidates = got.candidates
    assert len(candidates)
    assert not candidates["station_record_id"].isin(set(st.ids[~station_open])).any()
    assert not candidates["report_id"].isin(set(rp.ids[~report_open])).any()

    # the case is one where counting closed reports matters: without them, keys fall under the
    # cap and more pairs of open rows would be blocked
    open_pairs = set(zip(want["station_row"].tolist(), want["report_row"].tolist()))
    uncounted = {(s, r) for s, r in _blocked_without(prepared, model.settings, report_open) if station_open[s]
                 and (not focus or _touches(np.array([s * N_REPORTS + r]), N_REPORTS, station_focus, report_focus)[0])}
    assert open_pairs < uncounted


def test_all_open_masks_change_nothing(prepared, models, full_runs):
    full = full_runs[None]
    everyone = {"station_open": np.ones(prepared.stations.n, bool), "report_open": np.ones(prepared.reports.n, bool)}
    got = match_prepared(prepared, model=models[None], keep_scored_pairs=True, **everyone)
    pd.testing.assert_frame_equal(got.candidates, full.candidates, check_exact=True)
    pd.testing.assert_frame_equal(got.scored_pairs, full.scored_pairs, check_exact=True)
