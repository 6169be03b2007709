"""The console script ends a match or an ingest without tearing its objects down one by one:
what it wrote and printed must all be there, and its exit status must be the command's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _xunqin(*args: str) -> subprocess.CompletedProcess[str]:
    # buffered output, as on a station's server (a pipe to a log): nothing may be left unflushed
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-m", "xunqin.flows.cli", *args], capture_output=True, text=True,
                          timeout=300, env=environ)


def test_a_match_writes_and_says_everything_before_it_ends(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    done = _xunqin("match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
                   "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    written = pd.read_csv(out, dtype=str)
    assert done.stderr.rstrip().endswith(f"wrote {len(written):,} candidate rows to {out}")
    assert len(written) > 0 and written["station_record_id"].notna().all()


def test_a_refused_file_still_gives_its_status_and_message(tmp_path: Path) -> None:
    done = _xunqin("match", "--stations", str(tmp_path / "none.csv"), "--reports", str(SAMPLE / "reports.csv"),
                   "--out", str(tmp_path / "c.csv"))
    assert done.returncode == 1
    assert "none.csv: -: file not found" in done.stderr
    assert not (tmp_path / "c.csv").exists()


def test_an_ingest_writes_its_files_before_it_ends(tmp_path: Path) -> None:
    done = _xunqin("ingest", "--stations", str(SAMPLE / "stations.csv"), "--out", str(tmp_path / "n"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote" in done.stdout and len(pd.read_parquet(tmp_path / "n" / "stations.parquet")) > 0
