"""Run one measurement in a fresh child process and read that child's own peak memory.

Two easy readings are wrong on Linux. ``getrusage(RUSAGE_CHILDREN)`` gives the largest of all
children waited for so far. And even the one child's ``ru_maxrss`` (``os.wait4``) is at least the
parent's resident size when it forked: the kernel carries the high-water mark of the forked copy
of the parent across ``exec``. So the child reads its own ``VmHWM`` (the peak resident size of the
memory it mapped after exec, all threads) from ``/proc/self/status`` when it is done and hands it
over in a file; ``ru_maxrss`` is the fallback where ``/proc`` is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PEAK_FILE_ENV = "XUNQIN_BENCH_PEAK_FILE"


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    stderr_tail: str  # last lines of stderr (the children print no personal data)
    max_rss_mb: float  # the child's own peak resident memory


def _vm_hwm_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def report_peak_memory() -> None:
    """Called by a child at the end of its work: its peak resident memory to the parent."""
    path = os.environ.get(PEAK_FILE_ENV)
    kb = _vm_hwm_kb()
    if path and kb is not None:
        Path(path).write_text(str(kb))


def run_module(module: str, *args: str) -> ChildRun:
    """``python -m module args...`` from the repository root in a fresh interpreter."""
    with tempfile.TemporaryFile(mode="w+") as err, tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak_kb"
        env = {**os.environ, PEAK_FILE_ENV: str(peak_file)}
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = "\n".join(err.read().strip().splitlines()[-5:])
        kb = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss  # both KiB
    return ChildRun(proc.returncode, tail, kb / 1024)
