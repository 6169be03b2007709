"""Run one measurement in a fresh child process and read that child's own peak memory.

``resource.getrusage(RUSAGE_CHILDREN)`` gives the largest of all children waited for so far, so
a second measurement would report the first one's peak when it was larger; ``os.wait4`` gives
the resource usage of the one child it reaps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    stderr_tail: str  # last lines of stderr (no personal data is printed by the children)
    max_rss_mb: float  # peak resident memory of the child (and the descendants it waited for)


def run_module(module: str, *args: str) -> ChildRun:
    """``python -m module args...`` from the repository root in a fresh interpreter."""
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = "\n".join(err.read().strip().splitlines()[-5:])
    # ru_maxrss is in KiB on Linux
    return ChildRun(proc.returncode, tail, usage.ru_maxrss / 1024)

