"""Run one measurement in a fresh child process and read that child's own peak memory.

Two easy readings are wrong on Linux. ``getrusage(RUSAGE_CHILDREN)`` gives the largest of all
children waited for so far. And even the one child's ``ru_maxrss`` (``os.wait4``) is at least the
parent's resident size when it forked: the kernel carries the high-water mark of the forked copy
of the parent across ``exec``. So the child reads its own ``VmHWM`` (the peak resident size of the
memory it mapped after exec, all threads) from ``/proc/self/status`` when it is done and hands it
over in a file; ``ru_maxrss`` is the fallback where ``/proc`` is missing.

A child may start processes of its own (the matcher prepares report shards on two forked
processes), so the whole process tree is sampled too (:class:`TreePeak`): the sum of the
proportional set sizes (PSS: a page shared by a parent and its forked child counts half in
each), which is the physical memory the tree holds, and the sum of the resident sizes, which
counts such a page twice (an upper bound).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PEAK_FILE_ENV = "XUNQIN_BENCH_PEAK_FILE"


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    stderr_tail: str  # last lines of stderr (the children print no personal data)
    max_rss_mb: float  # the child's own peak resident memory
    tree_peak_mb: float  # the peak of the child and its own children together (PSS, sampled)
    tree_rss_peak_mb: float  # the same as resident sizes added up (shared pages twice)


SAMPLE_SECONDS = 0.2


def tree_memory(root) -> tuple[int, int]:
    """(PSS, RSS) bytes of a process and all its descendants, summed (psutil.Process ``root``)."""
    import psutil

    pss = rss = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            full = proc.memory_full_info()  # /proc/PID/smaps_rollup
        except psutil.Error:  # ended between listing and reading
            continue
        pss += full.pss
        rss += full.rss
    return pss, rss


class TreePeak:
    """Samples the resident memory of a running process's tree until it ends:
    ``with TreePeak(pid) as peak: ...wait...; peak.bytes``."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.bytes = 0  # PSS, summed
        self.rss_bytes = 0  # RSS, summed
        self._root = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._done.is_set():
            try:
                pss, rss = tree_memory(self._root)
                self.bytes, self.rss_bytes = max(self.bytes, pss), max(self.rss_bytes, rss)
            except psutil.Error:
                return
            self._done.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


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
        with TreePeak(proc.pid) as tree:
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = "\n".join(err.read().strip().splitlines()[-5:])
        kb = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss  # both KiB
    return ChildRun(proc.returncode, tail, kb / 1024, tree.bytes / 2**20, tree.rss_bytes / 2**20)
