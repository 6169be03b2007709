"""Settings are checked when they load: every bad key, name, type or range is refused with its path.

The model file in tests/matching/data was saved by the matcher before the settings had a schema
(``xunqin match --model`` on data/sample at commit dc3cbed): models saved then must still load.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from xunqin.matching import predicates as levels
from xunqin.matching.model import Model
from xunqin.matching.features import prepare
from xunqin.matching.settings import (
    PREDICATE_PARAMS,
    BlockingPass,
    KeyPart,
    Settings,
    SettingsError,
    default_settings,
    prepared_fields,
)

OLD_MODEL = Path(__file__).parent / "data" / "model_saved_before_schema.json"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _default() -> dict:
    """The settings of the model saved before the schema: fixed, whatever the defaults become."""
    return copy.deepcopy(json.loads(OLD_MODEL.read_text(encoding="utf-8"))["settings"])


def _set(path: str, value):
    """A mutation of the default settings: ``path`` as in the error messages, e.g. blocking[3].name."""

    def mutate(raw: dict) -> None:
        *parents, last = _parts(path)
        node = raw
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _parts(path: str) -> list:
    parts: list = []
    for piece in path.replace("]", "").split("."):
        name, *indices = piece.split("[")
        parts += ([name] if name else []) + [int(i) for i in indices]
    return parts


def _index(kind: str, name: str) -> int:
    return next(k for k, item in enumerate(_default()[kind]) if item["name"] == name)


def _level(comparison: str, label: str) -> str:
    c = _index("comparisons", comparison)
    k = next(k for k, lv in enumerate(_default()["comparisons"][c]["levels"]) if lv["label"] == label)
    return f"comparisons[{c}].levels[{k}]"


NAME_EXACT = _level("name", "exact")
GENDER_SAME = _level("gender", "same")
KM_30 = _level("found_place", "km_30")
SIMILAR = _level("name", "similar")
AGE_CLOSE = _level("age", "close")
NAME_LEVELS = f"comparisons[{_index('comparisons', 'name')}].levels"
SURNAME_BIRTH = f"blocking[{_index('blocking', 'gender_surname_birth')}]"

BAD_SETTINGS = [
    # unknown or misspelt keys, at every level
    ("top level", _set("topk", 5), "topk", "unknown key (known: blocking, comparisons, top_k, em)"),
    ("em", _set("em.sed", 3), "em.sed", "unknown key (known: max_iterations, tolerance"),
    ("blocking pass", _set("blocking[0].max_reports", 10), "blocking[0].max_reports",
     "unknown key (known: name, keys, max_reports_per_key, station_kinds)"),
    ("key part", _set("blocking[0].keys[0].stations", "name_all"), "blocking[0].keys[0].stations",
     "unknown key (known: station, report)"),
    ("comparison", _set("comparisons[0].level", []), "comparisons[0].level", "unknown key (known: name, levels)"),
    ("level", _set(f"{NAME_EXACT}.whn", "overlap"), f"{NAME_EXACT}.whn", "unknown key (known: label, when, params, m, tf)"),
    ("level parameter", _set(f"{NAME_EXACT}.params.stations", "name_all"), f"{NAME_EXACT}.params.stations",
     "unknown key (known: station, report, station_kinds)"),
    ("parameter of a condition without any", _set(f"{GENDER_SAME}.params", {"side": "left"}),
     f"{GENDER_SAME}.params.side", "the condition takes no parameters"),
    ("parameter of the else level", _set(f"{NAME_LEVELS}[-1].params", {"min": 0.5}), "params.min",
     "the condition takes no parameters"),
    ("required key", _set("blocking", _DELETE), "blocking", "required key missing"),
    ("required parameter", _set(f"{KM_30}.params.km", _DELETE), f"{KM_30}.params.km", "required key missing"),
    # field names against what matching.features gives each side
    ("blocking key, station side", _set(f"{SURNAME_BIRTH}.keys[1].station", "nam_folded"),
     f"{SURNAME_BIRTH}.keys[1].station", "'nam_folded' is not a station key column (known: age_unknown,"),
    ("blocking key, report side", _set("blocking[0].keys[0].report", "core_folded"),
     "blocking[0].keys[0].report", "'core_folded' is not a report key column"),
    ("blocking key on a one-value field", _set("blocking[0].keys[0].station", "name_clean"),
     "blocking[0].keys[0].station", "'name_clean' is not a station key column"),
    ("overlap field", _set(f"{NAME_EXACT}.params.report", "name_al"), f"{NAME_EXACT}.params.report",
     "'name_al' is not a report key column"),
    ("distance place", _set(f"{KM_30}.params.station", "found_codes"), f"{KM_30}.params.station",
     "'found_codes' is not a station place (known: found)"),
    ("similarity field", _set(f"{SIMILAR}.params.field", "name_folded"), f"{SIMILAR}.params.field",
     "'name_folded' has no first reading on both sides"),
    ("term-frequency field", _set(f"{NAME_EXACT}.tf", "name_cleen"), f"{NAME_EXACT}.tf",
     "'name_cleen' is not a station field"),
    # conditions and name kinds
    ("unknown condition", _set(f"{NAME_EXACT}.when", "overlaps"), f"{NAME_EXACT}.when",
     "unknown condition 'overlaps' (known: age_missing,"),
    ("pass name kind", _set(f"{SURNAME_BIRTH}.station_kinds", ["surname", "nickname"]),
     f"{SURNAME_BIRTH}.station_kinds[0]", "'surname' is not a name kind (known: full, surname_only,"),
    ("pass name kinds as text", _set(f"{SURNAME_BIRTH}.station_kinds", "nickname"),
     f"{SURNAME_BIRTH}.station_kinds", "a list of name kinds, got 'nickname'"),
    ("level name kind", _set(f"{NAME_EXACT}.params.station_kinds", ["full", "nick"]),
     f"{NAME_EXACT}.params.station_kinds[1]", "'nick' is not a name kind"),
    # types and ranges
    ("cap zero", _set("blocking[0].max_reports_per_key", 0), "blocking[0].max_reports_per_key",
     "greater than or equal to 1, got 0"),
    ("cap as text", _set("blocking[0].max_reports_per_key", "3000"), "blocking[0].max_reports_per_key",
     "valid integer, got '3000'"),
    ("top_k zero", _set("top_k", 0), "top_k", "greater than or equal to 1"),
    ("boolean count", _set("em.max_iterations", True), "em.max_iterations", "valid integer, got True"),
    ("negative seed", _set("em.seed", -1), "em.seed", "greater than or equal to 0"),
    ("tolerance zero", _set("em.tolerance", 0), "em.tolerance", "must be > 0, got 0"),
    ("match share over a half", _set("em.start_match_share", 0.9), "em.start_match_share", "<= 0.5"),
    ("km zero", _set(f"{KM_30}.params.km", 0), f"{KM_30}.params.km", "must be > 0, got 0"),
    ("km as words", _set(f"{KM_30}.params.km", "far"), f"{KM_30}.params.km", "must be a number, got 'far'"),
    ("similarity over 1", _set(f"{SIMILAR}.params.min", 1.2), f"{SIMILAR}.params.min", "<= 1, got 1.2"),
    ("negative years", _set(f"{AGE_CLOSE}.params.years", -2), f"{AGE_CLOSE}.params.years", ">= 0, got -2"),
    ("boolean parameter", _set(f"{AGE_CLOSE}.params.share", True), f"{AGE_CLOSE}.params.share",
     "must be a number, got True"),
    ("m over 1", _set(f"{NAME_EXACT}.m", 1.5), f"{NAME_EXACT}.m", "must be > 0 and <= 1, got 1.5"),
    ("params not a mapping", _set(f"{NAME_EXACT}.params", ["name_all"]), f"{NAME_EXACT}.params",
     "params are a mapping"),
    ("empty key", _set("blocking[0].keys", []), "blocking[0].keys", "needs at least 1 entry, got 0"),
    ("empty pass name", _set("blocking[0].name", ""), "blocking[0].name", "at least 1 character"),
    # the shape of a comparison
    ("last level not else", lambda d: d["comparisons"][0]["levels"].pop(), f"{NAME_LEVELS}[7].when",
     "the last level is 'else', not 'pinyin_similarity'"),
    ("first level not null", lambda d: d["comparisons"][0]["levels"].pop(0), f"{NAME_LEVELS}[0].label",
     "the first level is the null level (label \"null\"), not 'exact'"),
    ("else before the last level", _set(f"{GENDER_SAME}.when", "else"), f"{GENDER_SAME}.when",
     "only the last level is 'else'"),
    ("null level without a condition", _set(f"{NAME_LEVELS}[0].when", "else"), f"{NAME_LEVELS}[0].when",
     "the null level needs a condition"),
    ("duplicate level label", _set(f"{_level('gender', 'else')}.label", "same"), f"{_level('gender', 'else')}.label",
     "duplicate label 'same'"),
    ("duplicate comparison", _set("comparisons[1].name", "name"), "comparisons[1].name", "duplicate name 'name'"),
    ("duplicate pass", _set("blocking[1].name", "name_exact"), "blocking[1].name", "duplicate name 'name_exact'"),
    ("one level only", _set("comparisons[1].levels", [{"label": "null", "when": "gender_missing"}]),
     "comparisons[1].levels", "needs at least 2 entries, got 1"),
]


@pytest.mark.parametrize("mutate,path,fragment", [case[1:] for case in BAD_SETTINGS],
                         ids=[case[0] for case in BAD_SETTINGS])
def test_bad_settings_are_refused_naming_the_key(mutate, path, fragment):
    raw = _default()
    mutate(raw)
    with pytest.raises(SettingsError) as refused:
        Settings.from_dict(raw, "my_settings.yaml")
    assert any(where.endswith(path) and fragment in why for where, why in refused.value.problems), refused.value
    line = next(line for line in str(refused.value).splitlines() if fragment in line)
    assert line.startswith("my_settings.yaml: ")


def test_a_settings_error_survives_pickling():
    """Errors of a task cross process boundaries pickled (Prefect, Dask)."""
    error = SettingsError([("em.seed", "must be >= 0, got -1")], "my.yaml")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.problems, str(again)) == (SettingsError, error.problems, "my.yaml: em.seed: must be >= 0, got -1")


def test_every_problem_is_reported_at_once():
    raw = _default()
    raw["topk"] = 3
    raw["blocking"][0]["keys"][0]["station"] = "nam_all"
    raw["em"]["seed"] = -1
    with pytest.raises(SettingsError) as refused:
        Settings.from_dict(raw)
    assert [where for where, _ in refused.value.problems] == ["blocking[0].keys[0].station", "em.seed", "topk"]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("blocking: [", "line 1: not YAML or JSON"),
        ("- name: name_exact", "settings are a mapping (blocking, comparisons, top_k, em), got list"),
        ("", "settings are a mapping"),
    ],
)
def test_unreadable_settings_text_is_refused(tmp_path, text, fragment):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        Settings.load(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert fragment in str(refused.value)


def test_yaml_quirks_load(tmp_path):
    """PyYAML reads 1e-05 (no dot) as text: a number all the same. A bare null label is no label."""
    text = Settings.from_dict(_default()).to_yaml()
    assert "tolerance: 1.0e-05" in text
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("tolerance: 1.0e-05", "tolerance: 1e-05"), encoding="utf-8")
    assert Settings.load(path).em.tolerance == 1e-05
    path.write_text(text.replace("label: 'null'", "label: null", 1), encoding="utf-8")
    with pytest.raises(SettingsError, match=r'comparisons\[0\]\.levels\[0\]\.label: a label is text \(write "null" in quotes'):
        Settings.load(path)


def test_round_trip_through_json_and_yaml_files(tmp_path):
    settings = default_settings()
    for name, text in (("s.json", settings.to_json()), ("s.yaml", settings.to_yaml())):
        (tmp_path / name).write_text(text, encoding="utf-8")
        again = Settings.load(tmp_path / name)
        assert again == settings
        assert again.to_dict() == settings.to_dict()
    # the attribute API the matcher uses
    assert settings.comparison("name").labels[0] == "null"
    assert settings.em.seed == 20261129 and settings.top_k == 10
    assert all(isinstance(p, BlockingPass) and isinstance(p.keys[0], KeyPart) for p in settings.blocking)


def test_built_in_code_is_checked_too():
    """Settings built in code (tests, experiments) and dataclasses.replace are checked alike."""
    with pytest.raises(ValueError, match="'nam_all' is not a station key column"):
        BlockingPass("names", (KeyPart("nam_all", "name_all"),))
    capped = dataclasses.replace(default_settings().blocking[0], max_reports_per_key=7)
    assert capped.max_reports_per_key == 7
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        dataclasses.replace(default_settings().blocking[0], max_reports_per_key=0)


def test_a_model_saved_before_the_schema_loads_and_saves_the_same():
    raw = json.loads(OLD_MODEL.read_text(encoding="utf-8"))
    model = Model.load(OLD_MODEL)
    assert model.to_dict() == raw  # so its version (the hash of its JSON in the database) stays
    assert model.settings == Settings.from_text(model.settings.to_yaml())


def test_a_stored_model_version_loads_from_the_database(tmp_path):
    from xunqin.store import db, model_versions

    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    raw = json.loads(OLD_MODEL.read_text(encoding="utf-8"))
    with db.sessions(url).begin() as s:
        version = model_versions.save_model(s, raw, None, actor="test")
    with db.sessions(url)() as s:
        stored_version, body = model_versions.active_model(s)
    assert stored_version == version
    assert Model.from_dict(body).to_dict() == raw


def test_a_model_with_a_bad_settings_key_names_it():
    raw = json.loads(OLD_MODEL.read_text(encoding="utf-8"))
    raw["settings"]["blocking"][2]["keys"][0]["report"] = "name_fold"
    with pytest.raises(SettingsError) as refused:
        Model.from_dict(raw)
    located = refused.value.located("model.json", "settings")
    assert str(located).startswith("model.json: settings.blocking[2].keys[0].report: 'name_fold' is not a report key")


def test_every_predicate_has_a_parameter_schema():
    assert set(PREDICATE_PARAMS) == set(levels.PREDICATES)


def test_the_field_lists_are_those_of_a_real_preparation():
    """The names settings may use are read from an empty preparation: the same as with data."""
    from xunqin.ingest import ingest_files

    result = ingest_files(SAMPLE / "stations.csv", SAMPLE / "reports.csv")
    prepared = prepare(result.stations, result.reports)
    fields = prepared_fields()
    assert fields.station_keys == set(prepared.stations.multi)
    assert fields.report_keys == set(prepared.reports.multi)
    assert fields.station_values == set(prepared.stations.values)
    assert fields.report_values == set(prepared.reports.values)
