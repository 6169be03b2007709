"""The benchmarks' memory figure covers what a measured run's own children hold."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from benchmarks.child import TreePeak

# a parent that forks a child; the child alone writes 300 MB of its own pages
FORKING = textwrap.dedent("""
    import os, time
    pid = os.fork()
    if pid == 0:
        block = bytearray(300 * 2**20)
        for k in range(0, len(block), 4096):
            block[k] = 1
        time.sleep(1.5)
        os._exit(0)
    os.waitpid(pid, 0)
""")


def test_the_tree_peak_counts_a_forked_childs_own_memory():
    proc = subprocess.Popen([sys.executable, "-c", FORKING])
    with TreePeak(proc.pid) as peak:
        proc.wait()
    assert proc.returncode == 0
    assert peak.bytes > 300 * 2**20  # PSS: the child's private pages count whole
    assert peak.rss_bytes >= peak.bytes
