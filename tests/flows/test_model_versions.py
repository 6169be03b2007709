"""`xunqin model train/list/activate` on a real database: a version learned from labels is
stored with its counts and held-out evaluation, activated only when not worse."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from xunqin.flows.cli import main
from xunqin.flows.nightly import nightly
from xunqin.store import candidates, db, decisions, labels, model_versions


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def _labelled_night(tmp_path: Path, url: str) -> None:
    """A night, then a reviewer labels the top 3 of every station record from the truth."""
    from xunqin.data.generate import generate

    gen = generate(120, 900, seed=21)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    gen.stations.to_csv(inbox / "stations.csv", index=False)
    gen.reports.to_csv(inbox / "reports.csv", index=False)
    nightly(inbox=str(inbox), db_url=url, top_k=10)
    truth = set(zip(gen.truth["station_record_id"].astype(str), gen.truth["report_id"].astype(str)))
    with db.sessions(url)() as s:
        queue = candidates.review_queue(s)
    top = queue[queue["rank"] <= 3]
    with db.sessions(url).begin() as s:
        for row in top.itertuples():
            if (row.station_record_id, row.report_id) in truth:
                decisions.record_decision(s, row.station_record_id, row.report_id, "确认", "reviewer-1")
    with db.sessions(url).begin() as s:
        closed_s, _ = decisions.closed_ids(s)
        for row in top.itertuples():
            if (row.station_record_id, row.report_id) not in truth and row.station_record_id not in closed_s:
                decisions.record_decision(s, row.station_record_id, row.report_id, "排除", "reviewer-1")


def test_train_list_activate(db_url: str, tmp_path: Path) -> None:
    url = db_url
    _labelled_night(tmp_path, url)
    with db.sessions(url)() as s:
        held = labels.latest_labels(s)
    assert held["is_match"].sum() > 20 and (~held["is_match"].astype(bool)).sum() > 20

    code, said = _cli("model", "train", "--db", url)
    assert code == 0, said
    assert "模型版本 2" in said and "留出评估" in said
    with db.sessions(url)() as s:
        rows = model_versions.list_models(s)
    assert len(rows) == 2
    new = rows[1]
    assert new.training["labels"] == new.training["labels_true"] + new.training["labels_false"] > 0
    assert new.training["held_out_labels"] > 0
    assert 0 <= new.evaluation["new"]["recall_at_1"] <= 1 and new.evaluation["active"] is not None
    assert new.note
    body = model_versions.active_model
    with db.sessions(url)() as s:
        active_version, active_dict = body(s)
    assert (active_version == new.version) == new.is_active  # the one marked active is what the night uses
    if new.is_active:
        assert active_dict["info"]["trained_from_labels"]["labels"] == new.training["labels"]

    code, listing = _cli("model", "list", "--db", url)
    assert code == 0 and listing.count("\n") == 3  # header + two versions
    code, said = _cli("model", "activate", "1", "--db", url)
    assert code == 0 and "已启用" in said
    with db.sessions(url)() as s:
        assert model_versions.active_row(s).id == 1
    code, _ = _cli("model", "activate", "99", "--db", url)
    assert code == 1


def test_a_version_worse_on_held_out_labels_is_not_activated(db_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Training labels turned around (a reviewer's errors): m learns the wrong pairs' patterns,
    the held-out labels (not turned) show it, and the active version stays."""
    from xunqin.matching import learning

    url = db_url
    _labelled_night(tmp_path, url)
    real_latest = labels.latest_labels

    def turned(session) -> pd.DataFrame:
        frame = real_latest(session)
        train = ~learning.held_out(frame["station_record_id"])
        frame.loc[train, "is_match"] = ~frame.loc[train, "is_match"].astype(bool)
        return frame

    monkeypatch.setattr(labels, "latest_labels", turned)
    monkeypatch.setattr(learning, "SMOOTHING_PAIRS", 1.0)
    with db.sessions(url)() as s:
        before = model_versions.active_row(s).id
    code, said = _cli("model", "train", "--db", url)
    assert code == 0 and "未启用" in said, said
    with db.sessions(url)() as s:
        rows = model_versions.list_models(s)
        assert model_versions.active_row(s).id == before
    new, active = rows[-1].evaluation["new"], rows[-1].evaluation["active"]
    assert not rows[-1].is_active
    assert new["recall_at_1"] < active["recall_at_1"] or new["ece"] > active["ece"] + learning.ECE_TOLERANCE
    assert rows[-1].note.startswith("新模型")


def test_a_night_retrains_when_enough_labels_arrived_and_says_so(tmp_path: Path) -> None:
    from xunqin.flows import steps

    url = f"sqlite:///{tmp_path / 'x.db'}"
    _labelled_night(tmp_path, url)
    with db.sessions(url)() as s:
        assert labels.labels_since(s, None) >= steps.RETRAIN_AFTER_LABELS
    summary = nightly(inbox=str(tmp_path / "inbox"), db_url=url, top_k=10)
    assert summary["retrained"]["number"] == 2 and summary["retrained"]["new_labels"] >= steps.RETRAIN_AFTER_LABELS
    again = nightly(inbox=str(tmp_path / "inbox"), db_url=url, top_k=10)
    assert again["retrained"] is None  # no new labels since
