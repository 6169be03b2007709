"""`xunqin match --settings` beside `--model`: applied, or refused with one line; never ignored.

A model is trained for its settings. With a model file that exists, settings equal to the
model's are accepted and any other refused (naming both files and what differs); with a model
file that does not exist yet, the model is trained with the settings given and saved there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from xunqin.flows.cli import main
from xunqin.matching.model import Model
from xunqin.matching.settings import Settings, default_settings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A third of the sample, to keep each run short."""
    folder = tmp_path_factory.mktemp("inputs")
    stations = pd.read_csv(SAMPLE / "stations.csv", dtype=str, keep_default_na=False).head(100)
    reports = pd.read_csv(SAMPLE / "reports.csv", dtype=str, keep_default_na=False).head(1000)
    stations.to_csv(folder / "stations.csv", index=False)
    reports.to_csv(folder / "reports.csv", index=False)
    return folder / "stations.csv", folder / "reports.csv"


@pytest.fixture(scope="module")
def trained(inputs, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A model trained with the default settings, and the candidates it gave."""
    folder = tmp_path_factory.mktemp("trained")
    model, out = folder / "model.json", folder / "candidates.csv"
    assert _match(inputs, out, "--model", str(model)) == 0
    return model, pd.read_csv(out, dtype=str)


def _match(inputs, out: Path, *extra: str) -> int:
    stations, reports = inputs
    return main(["match", "--stations", str(stations), "--reports", str(reports), "--out", str(out), *extra])


def _settings_file(folder: Path, edit=lambda raw: None) -> Path:
    """The default settings as YAML, after ``edit`` (of their dict)."""
    raw = default_settings().to_dict()
    edit(raw)
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


DEFAULT_TOP_K = default_settings().top_k
NARROWER_TOP_K = 5 if DEFAULT_TOP_K != 5 else 4
LAST_PASS = len(default_settings().blocking) - 1
LAST_CAP = default_settings().blocking[-1].max_reports_per_key


def _narrower(raw: dict) -> None:
    """A tighter cap on the last blocking pass, and fewer candidates per record."""
    raw["blocking"][-1]["max_reports_per_key"] = LAST_CAP - 1
    raw["top_k"] = NARROWER_TOP_K


def test_settings_equal_to_the_models_are_accepted(inputs, trained, tmp_path, capsys):
    model, before = trained
    out = tmp_path / "c.csv"
    assert _match(inputs, out, "--model", str(model), "--settings", str(_settings_file(tmp_path))) == 0
    assert "the settings given are the model's" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(out, dtype=str), before)


def test_settings_other_than_the_models_are_refused(inputs, trained, tmp_path, capsys):
    model, _ = trained
    settings = _settings_file(tmp_path, _narrower)
    out = tmp_path / "c.csv"
    assert _match(inputs, out, "--model", str(model), "--settings", str(settings)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"xunqin: {settings}: not the settings {model} was trained with (")
    assert (f"blocking[{LAST_PASS}].max_reports_per_key: {LAST_CAP} in the model, {LAST_CAP - 1} here; "
            f"top_k: {DEFAULT_TOP_K} in the model, {NARROWER_TOP_K} here") in err
    assert "leave out --settings" in err
    assert not out.exists()  # refused before anything was read or written


def test_settings_with_a_new_model_file_train_it(inputs, tmp_path):
    settings = _settings_file(tmp_path, _narrower)
    model, out = tmp_path / "new-model.json", tmp_path / "c.csv"
    assert _match(inputs, out, "--model", str(model), "--settings", str(settings)) == 0
    assert Model.load(model).settings == Settings.load(settings)  # trained with them and saved with them
    per_station = pd.read_csv(out, dtype=str).groupby("station_record_id").size()
    assert per_station.max() == NARROWER_TOP_K  # the settings' top_k
    # the model trained with these settings takes them again
    assert _match(inputs, tmp_path / "again.csv", "--model", str(model), "--settings", str(settings)) == 0


@pytest.mark.parametrize("top_k,expected", [(None, NARROWER_TOP_K), ("3", 3), ("8", 8)])
def test_top_k_comes_from_the_settings_unless_given(inputs, tmp_path, top_k, expected):
    settings = _settings_file(tmp_path, _narrower)
    out = tmp_path / "c.csv"
    extra = ["--top-k", top_k] if top_k else []
    assert _match(inputs, out, "--settings", str(settings), *extra) == 0
    assert pd.read_csv(out, dtype=str).groupby("station_record_id").size().max() == expected


def test_top_k_of_a_model_file(inputs, trained, tmp_path):
    model, before = trained
    out = tmp_path / "c.csv"
    assert _match(inputs, out, "--model", str(model), "--top-k", "2") == 0
    assert pd.read_csv(out, dtype=str).groupby("station_record_id").size().max() == 2
    assert before.groupby("station_record_id").size().max() == Model.load(model).settings.top_k == DEFAULT_TOP_K


def test_a_misspelt_settings_key_is_refused_naming_file_and_key(inputs, tmp_path, capsys):
    settings = _settings_file(tmp_path, lambda raw: raw["blocking"][1]["keys"][0].update(station="nam_folded"))
    out = tmp_path / "c.csv"
    assert _match(inputs, out, "--settings", str(settings)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xunqin: {settings}: blocking[1].keys[0].station: 'nam_folded' is not a station key column (known: ")
    assert "Traceback" not in err and not out.exists()


def test_a_model_file_with_a_bad_settings_key_is_refused(inputs, trained, tmp_path, capsys):
    model, _ = trained
    raw = json.loads(model.read_text(encoding="utf-8"))
    raw["settings"]["comparisons"][1]["levels"][1]["when"] = "same_or_not"
    broken = tmp_path / "model.json"
    broken.write_text(json.dumps(raw), encoding="utf-8")
    assert _match(inputs, tmp_path / "c.csv", "--model", str(broken)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xunqin: {broken}: settings.comparisons[1].levels[1].when: unknown condition 'same_or_not'")


@pytest.mark.parametrize("body,why", [("{", "not a xunqin model file (Expecting property name"),
                                      ('{"format": "other"}', "not a xunqin model file (format xunqin-fs-model/1)")])
def test_a_file_that_is_no_model_is_refused(inputs, tmp_path, capsys, body, why):
    model = tmp_path / "model.json"
    model.write_text(body, encoding="utf-8")
    assert _match(inputs, tmp_path / "c.csv", "--model", str(model)) == 1
    assert capsys.readouterr().err.startswith(f"xunqin: {model}: -: {why}")
