"""Report shards as Prefect tasks on Dask: prefect-dask's ``DaskTaskRunner`` on a
``dask.distributed`` LocalCluster of ``--workers N`` processes, or on a running cluster by
address (``--dask tcp://scheduler:8786``, or ``$XUNQIN_DASK_ADDRESS`` read when the command runs).

The command writes the normalized tables as Parquet files (the stations once, the reports in
shards of ``--shard-size`` rows) to a private folder; each shard's task reads its files where it
runs, so only counts, the model and each shard's best candidates travel through the scheduler.
On a cluster of several machines that folder must be one every worker reads at the same path
(``--shard-dir`` or ``$XUNQIN_SHARD_DIR``, e.g. an NFS mount); it is removed when the match
ends. The phases are those of :mod:`xunqin.matching.shards`, driven by
:func:`xunqin.matching.pipeline.match_shards`, exactly as in one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xunqin.flows.dask_options import DEFAULT_WORKERS, shard_parent, shard_size
from xunqin.flows.tasks import private_task
from xunqin.matching import shards as shards_mod
from xunqin.matching.progress import Counted

def task_runner(workers: int | None = None, scheduler: str | None = None) -> Any:
    """A DaskTaskRunner: on the cluster at ``scheduler``, else on a LocalCluster of ``workers``
    processes (one thread each: the matcher's numpy work runs its own threads) listening on
    loopback only, without the dashboard."""
    _quiet_cluster_logs()
    from prefect_dask import DaskTaskRunner

    if scheduler:
        return DaskTaskRunner(address=scheduler)
    return DaskTaskRunner(cluster_class=local_cluster,
                          cluster_kwargs={"n_workers": workers or DEFAULT_WORKERS, "threads_per_worker": 1,
                                          "processes": True, "host": "127.0.0.1", "dashboard_address": None})


# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's mmap
# threshold at 128 KB: every numpy temporary is then mapped and faulted in afresh. One shard's
# ranking (250,000 reports at M) took 18.4 s so, 9.2 s with glibc's own thresholds.
WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(**options: Any) -> Any:
    """A ``distributed.LocalCluster`` whose workers keep glibc's own memory thresholds."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(WORKER_ENVIRONMENT):
        return LocalCluster(**options)


@contextlib.contextmanager
def engine(workers: int | None = None, scheduler: str | None = None) -> Iterator[str]:
    """The address of the cluster to match on: ``scheduler`` as given, or a LocalCluster of
    ``workers`` processes started here (on loopback, one thread each, no dashboard, the
    matcher imported as each worker starts) and closed afterwards."""
    if scheduler:
        yield scheduler
        return
    _quiet_cluster_logs()
    with local_cluster(n_workers=workers or DEFAULT_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=None, preload=["xunqin.flows.dask_runner"]) as cluster:
        yield cluster.scheduler_address


def _quiet_cluster_logs() -> None:
    """The cluster's start and stop lines are not the operator's business (warnings still show):
    in this process, and in the worker processes it starts."""
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.getLogger("distributed").setLevel(logging.WARNING)


@private_task("load-shard", io=False)
def load_shard(source: shards_mod.ShardSource) -> shards_mod.LoadedShard:
    """A shard read from its files and prepared, where the task runs; it stays in that
    worker's memory for the shard's next phases (Dask runs them where their input is)."""
    return shards_mod.load(source)


@private_task("match-shard", io=False)
def shard_phase(shard: shards_mod.LoadedShard, phase: Callable[..., Any], args: tuple) -> Any:
    """One phase of one shard."""
    return phase(shard, *args)


class PrefectShardRunner:
    """Runs each phase as one Prefect task per shard on the flow's task runner; reports every
    finished shard through ``progress``."""

    # the prepared shards stay on the workers from phase to phase (memory per worker: its
    # shards' prepared reports), their compared pairs do not (memory would grow with the pairs)
    keeps_shards = False

    def __init__(self, sources: list[shards_mod.ShardSource], progress: Callable[[str], None] | None = None) -> None:
        self.sources = sources
        self.say = progress or (lambda _message: None)
        self._ids: np.ndarray | None = None
        self._loaded: list[Any] | None = None

    @property
    def n_shards(self) -> int:
        return len(self.sources)

    def run(self, phase: Callable[..., Any], per_shard: list[tuple], *common: Any) -> list[Any]:
        from prefect.futures import as_completed

        if self._loaded is None:
            self._loaded = [load_shard.with_options(task_run_name=f"load-shard-{s.number}").submit(s)
                            for s in self.sources]
        futures = [shard_phase.with_options(task_run_name=f"{phase.__name__}-shard-{s.number}")
                   .submit(loaded, phase, (*common, *own)) for s, loaded, own in zip(self.sources, self._loaded, per_shard)]
        for done, _ in enumerate(as_completed(futures), start=1):
            self.say(Counted(phase.__name__, done, self.n_shards, "shards"))
        return [f.result() for f in futures]

    def report_ids(self, rows: np.ndarray) -> np.ndarray:
        if self._ids is None:  # one column of each shard, read here
            self._ids = np.concatenate([pd.read_parquet(s.reports, columns=["report_id"])["report_id"]
                                        .astype(str).to_numpy(dtype=object) for s in self.sources])
        return self._ids[rows]


@contextlib.contextmanager
def shard_folder(directory: str | None = None) -> Iterator[Path]:
    """A private folder for the shard files (mode 700, under ``directory`` or
    ``$XUNQIN_SHARD_DIR`` when given), removed afterwards."""
    parent = shard_parent(directory)
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="xunqin-shards-", dir=parent))  # mkdtemp: mode 700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_shard_files(folder: Path, stations: pd.DataFrame, reports: pd.DataFrame, size: int
                      ) -> list[shards_mod.ShardSource]:
    """The normalized tables as Parquet files in ``folder``: the stations once, the reports in
    shards of ``size`` rows."""
    stations_path = folder / "stations.parquet"
    stations.reset_index(drop=True).to_parquet(stations_path, index=False)
    sources = []
    for number, start in enumerate(range(0, max(len(reports), 1), size)):
        path = folder / f"reports-{number:05d}.parquet"
        part = reports.iloc[start:start + size].reset_index(drop=True)
        part.to_parquet(path, index=False)
        sources.append(shards_mod.ShardSource(number, start, len(part), str(stations_path), str(path)))
    return sources


class _HereOnly:
    """A progress callback that stays in this process. Prefect ships the flow, and with it what
    its function holds, to every task; there this is a no-op (a terminal's progress bar, or a
    test's captured stderr, cannot be pickled, and is not the worker's to draw)."""

    def __init__(self, fn: Callable[[str], None] | None) -> None:
        self.fn = fn

    def __call__(self, message: str) -> None:
        if self.fn is not None:
            self.fn(message)

    def __reduce__(self) -> tuple:
        return (_HereOnly, (None,))


def match_on_dask(tables: list[pd.DataFrame], *, workers: int | None = None,
                  scheduler: str | None = None, size: int | None = None, directory: str | None = None,
                  progress: Callable[[str], None] | None = None, **options: Any) -> Any:
    """:func:`xunqin.matching.pipeline.match` with the report shards as Prefect tasks on Dask
    (``options``: settings, model, top_k, keep_scored_pairs, exclude_pairs). ``tables`` is
    ``[stations, reports]``, handed over: it is emptied once the shard files are written, so
    that a caller holding no other reference to the tables frees them while the shards run.
    Needs a Prefect API (a server, or :func:`xunqin.flows.prefect_env.local_server`)."""
    from prefect import flow

    from xunqin.matching.pipeline import match_shards

    size = shard_size(size)
    progress = _HereOnly(progress)
    say = progress
    with shard_folder(directory) as folder:
        sources = write_shard_files(folder, tables[0], tables[1], size)
        n_reports = len(tables[1])
        tables.clear()
        say(f"{n_reports:,} reports in {len(sources)} shards of up to {size:,}, on "
            f"{scheduler or f'a local Dask cluster of {workers or DEFAULT_WORKERS} workers'}")

        # the tables and the model stay out of the flow's parameters (Prefect stores those)
        def run_shards() -> Any:
            return match_shards(PrefectShardRunner(sources, progress), progress=progress, **options)

        sharded = flow(name="xunqin-match-shards", persist_result=False, log_prints=False,
                       task_runner=task_runner(workers, scheduler))(run_shards)
        return sharded()
