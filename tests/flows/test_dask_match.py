"""``xunqin match`` and the nightly flow on a real dask.distributed LocalCluster: report shards
as Prefect tasks on prefect-dask's DaskTaskRunner give the candidates of one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunqin.flows import cli
from xunqin.flows.nightly import nightly

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SHARD_SIZE = "700"  # the sample's 3,000 reports in 5 shards


@pytest.fixture
def harness_api(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test harness's Prefect API in the environment: the command starts no server of its
    own, and the cluster's worker processes report their task runs there."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    monkeypatch.setenv("PREFECT_API_URL", url)
    return url


@pytest.fixture(scope="module")
def cluster():
    from xunqin.flows import dask_runner

    with dask_runner.local_cluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None) as running:
        yield running


def _match(tmp_path: Path, name: str, *extra: str) -> pd.DataFrame:
    out = tmp_path / f"{name}.csv"
    code = cli.main(["match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
                     "--out", str(out), *extra])
    assert code == 0
    return pd.read_csv(out, dtype={"station_record_id": str, "report_id": str, "duplicate_report_ids": str})


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    key = ["station_record_id", "report_id", "rank"]
    pd.testing.assert_frame_equal(got[key], want[key])
    np.testing.assert_allclose(got["score"], want["score"], atol=1e-3)
    np.testing.assert_allclose(got["probability"], want["probability"], atol=1e-5)
    assert got["duplicate_report_ids"].fillna("").equals(want["duplicate_report_ids"].fillna(""))
    assert list(got.columns) == list(want.columns)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> pd.DataFrame:
    return _match(tmp_path_factory.mktemp("one"), "one")


def _finished(cluster, function: str) -> int:
    """Tasks of a Prefect task function the cluster's scheduler has seen finish."""
    prefix = cluster.scheduler.task_prefixes.get(function)
    return 0 if prefix is None else int(prefix.state_counts["memory"])


def test_match_on_a_cluster_by_address_gives_the_answers_of_one_process(
        one_process, cluster, harness_api, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = _finished(cluster, "shard_phase")
    got = _match(tmp_path, "dask", "--dask", cluster.scheduler_address, "--shard-size", SHARD_SIZE)
    _assert_same(got, one_process)
    assert _finished(cluster, "shard_phase") - ran == 3 * 5  # three phases of five shards ran on that cluster
    err = capsys.readouterr().err
    assert "3,000 reports in 5 shards" in err and "rank_shard: 5/5 shards" in err


def test_match_takes_the_cluster_from_the_environment(
        one_process, cluster, harness_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUNQIN_DASK_ADDRESS", cluster.scheduler_address)
    monkeypatch.setenv("XUNQIN_SHARD_SIZE", "1000")
    ran = _finished(cluster, "shard_phase")
    _assert_same(_match(tmp_path, "env"), one_process)
    assert _finished(cluster, "shard_phase") - ran == 3 * 3


def test_match_with_workers_starts_a_local_cluster(one_process, harness_api, tmp_path: Path) -> None:
    _assert_same(_match(tmp_path, "workers", "--workers", "2", "--shard-size", "1500"), one_process)


def test_a_bad_shard_size_in_the_environment_is_refused_naming_it(
        harness_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XUNQIN_SHARD_SIZE", "many")
    code = cli.main(["match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
                     "--out", str(tmp_path / "c.csv"), "--workers", "2"])
    assert code == 2
    assert "XUNQIN_SHARD_SIZE must be a whole number, not 'many'" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


def _night(tmp_path: Path, name: str, **dask: object) -> pd.DataFrame:
    import shutil

    from xunqin.store import db

    inbox = tmp_path / name / "inbox"
    inbox.mkdir(parents=True)
    for file in ("stations.csv", "reports.csv"):
        shutil.copy(SAMPLE / file, inbox / file)
    url = f"sqlite:///{tmp_path / name / 'x.db'}"
    summary = nightly(inbox=str(inbox), db_url=url, top_k=5, cache_dir=str(tmp_path / name / "cache"), **dask)
    assert summary["match"]["candidates_new"] > 0
    out = tmp_path / name / "candidates.csv"
    assert cli.main(["candidates", "--db", url, "--out", str(out)]) == 0
    db.dispose(url)
    return pd.read_csv(out, dtype=str)


def test_the_nightly_flow_runs_its_match_on_the_dask_cluster(cluster, harness_api, tmp_path: Path) -> None:
    want = _night(tmp_path, "here")
    ran = _finished(cluster, "match_incremental")
    got = _night(tmp_path, "dask", dask=cluster.scheduler_address)
    assert _finished(cluster, "match_incremental") == ran + 1
    pd.testing.assert_frame_equal(got, want)


def test_the_local_clusters_workers_keep_glibcs_own_malloc_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask would start them with MALLOC_TRIM_THRESHOLD_ set (every numpy temporary mapped and
    faulted in afresh: ranking a shard twice as slow); the clusters xunqin starts leave it unset."""
    import os

    from distributed import Client, LocalCluster

    from xunqin.flows import dask_runner

    def seen(client: Client) -> list:
        return list(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())

    options = {"n_workers": 1, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
               "dashboard_address": None}
    with LocalCluster(**options) as cluster, Client(cluster) as client:
        assert seen(client) == ["65536"]  # what Dask does: the test means something
    # a nanny also sets it in its own process's environment, which its next workers inherit
    # (a command starts one cluster; here earlier tests started others)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask_runner.local_cluster(**options) as cluster, Client(cluster) as client:
        assert seen(client) == [None]
    with dask_runner.engine(workers=1) as address, Client(address) as client:
        assert seen(client) == [None]
