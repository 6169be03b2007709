"""Outputs of ``xunqin ingest`` and ``xunqin match`` appear whole or not at all: written to a
temporary file beside them and moved into place; a full disk fails with one line naming the
file, leaves no partial output and no temporary file (tested on a real, small tmpfs)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

from xunqin.flows.cli import main
from xunqin.flows.outputs import OutputError, OutputSet, staged

SAMPLE = Path(str(files("xunqin.data") / "sample"))


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------------ the helper on its own


def test_a_set_appears_together(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    with OutputSet() as outputs:
        with outputs.file(out / "one.txt") as temp:
            temp.write_text("1")
            assert temp.parent == out and temp.name.startswith(".one.txt.")
        with outputs.file(out / "two.txt") as temp:
            temp.write_text("2")
        assert not (out / "one.txt").exists() and len(list(out.iterdir())) == 2  # two temporaries, nothing final yet
    assert _tree(out) == ["one.txt", "two.txt"]
    assert (out / "one.txt").read_text() == "1"
    assert stat.S_IMODE((out / "one.txt").stat().st_mode) == 0o600  # outputs hold personal data


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()])
def test_a_failed_set_leaves_nothing(tmp_path: Path, error: BaseException) -> None:
    out = tmp_path / "new" / "out"
    with pytest.raises(OutputError if isinstance(error, OSError) else KeyboardInterrupt) as info:
        with OutputSet() as outputs:
            with outputs.file(out / "stations.parquet") as temp:
                temp.write_text("complete")
            with outputs.file(out / "reports.parquet") as temp:
                temp.write_text("half")
                raise error
    assert not (tmp_path / "new").exists()  # not even the folder it made
    if isinstance(error, OSError):
        assert info.value.path == out / "reports.parquet"
        assert str(info.value).startswith(f"{out / 'reports.parquet'}: ")


def test_a_failure_keeps_the_previous_file_whole(tmp_path: Path) -> None:
    final = tmp_path / "candidates.csv"
    final.write_text("the last good run\n")
    with pytest.raises(OutputError):
        with staged(final) as temp:
            temp.write_text("half of a new ru")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert final.read_text() == "the last good run\n"
    assert _tree(tmp_path) == ["candidates.csv"]


@pytest.mark.parametrize("code, text", [
    (errno.ENOSPC, "磁盘空间不足 (No space left on device)"),
    (errno.EDQUOT, "磁盘配额已用完 (Disk quota exceeded)"),
    (errno.EACCES, "没有写入权限 (Permission denied)"),
    (errno.EROFS, "文件系统只读 (Read-only file system)"),
    (errno.EIO, "磁盘读写出错 (Input/output error)"),
    (errno.ENAMETOOLONG, "无法写入 (File name too long)"),
])
def test_error_messages(code: int, text: str) -> None:
    # pyarrow words its errors its own way; the message uses the system's text for the errno
    error = OSError(code, "Error writing bytes to file. Detail: [errno 28] whatever")
    assert str(OutputError(Path("out/candidates.csv"), error)) == f"out/candidates.csv: {text}"


def test_unwritable_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError) as info:
        with staged(blocker / "candidates.csv") as temp:
            temp.write_text("x")
    assert info.value.path == blocker / "candidates.csv"


# ------------------------------------------------------------------ a real full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A tmpfs of the given size, mounted for the test."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is tested on a small tmpfs, which only root can mount")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_ingest_on_a_full_disk(small_disk, capsys: pytest.CaptureFixture[str]) -> None:
    disk = small_disk("96k")  # room for stations.parquet (~40 KB), not for reports.parquet
    out = disk / "out"
    code = main(["ingest", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"xunqin: {out}/") and err.endswith(": 磁盘空间不足 (No space left on device)\n")
    assert _tree(disk) == []  # no stations.parquet without its reports, no temporary file, no empty folder


def test_ingest_fits_and_replaces(small_disk, capsys: pytest.CaptureFixture[str]) -> None:
    disk = small_disk("4m")
    out = disk / "out"
    args = ["ingest", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"), "--out", str(out)]
    assert main(args) == 0 and main(args) == 0  # the second run replaces the first's files
    assert _tree(out) == ["rejects.csv", "reports.parquet", "stations.parquet", "summary.json"]
    assert len(pd.read_parquet(out / "reports.parquet")) == 3000


def test_match_on_a_full_disk(small_disk, tmp_path: Path) -> None:
    """The command as run: the one-line message, exit 1, the old candidates file whole, no temporary file."""
    disk = small_disk("256k")  # candidates.csv of the sample is ~700 KB
    out = disk / "out" / "candidates.csv"
    out.parent.mkdir()
    out.write_text("station_record_id,report_id,rank,score\n")
    exe = Path(sys.executable).parent / "xunqin"
    done = subprocess.run([str(exe), "match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
                           "--out", str(out), "--model", str(disk / "out" / "model.json")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last == f"xunqin: {out}: 磁盘空间不足 (No space left on device)"
    assert "Traceback" not in done.stderr
    assert out.read_text() == "station_record_id,report_id,rank,score\n"
    assert _tree(disk) == ["out", "out/candidates.csv", "out/model.json"]  # the model fitted; no temporary file
