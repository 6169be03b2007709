"""Faults of the night, for real: a full disk, two nights at once, a killed night's Prefect
server, PostgreSQL stopped mid-night, and what Prefect keeps on disk after a failure.

The commands run as the operator runs them (``xunqin nightly`` in a subprocess with its own
PREFECT_HOME), except PostgreSQL stopped mid-night, which stops a private server from inside
the night's match step.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from xunqin.store import db, locks

REPO = Path(__file__).resolve().parents[2]
XUNQIN = [sys.executable, "-m", "xunqin.flows.cli"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _inbox(folder: Path, stations: int = 90, reports: int = 700) -> tuple[Path, pd.DataFrame]:
    from xunqin.data.generate import generate

    gen = generate(stations, reports, seed=11)
    folder.mkdir(parents=True, exist_ok=True)
    gen.stations.to_csv(folder / "stations.csv", index=False)
    gen.reports.to_csv(folder / "reports.csv", index=False)
    return folder, gen.reports


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)
    return env


def _night(inbox: Path, url: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*XUNQIN, "nightly", "--inbox", str(inbox), "--db", url], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _personal_values(reports: pd.DataFrame) -> list[bytes]:
    phones = [p for p in reports["contact_phone"].dropna().astype(str) if len(p) >= 7]
    names = [n for n in reports["name"].dropna().astype(str) if len(n) >= 3]
    return [v.encode("utf-8") for v in phones[:200] + names[:200]]


def _files_holding(folder: Path, values: list[bytes]) -> list[str]:
    """Files under ``folder`` holding any of ``values``, as bytes or inside base64 blocks
    (Prefect's result files are base64 of a pickle)."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        blobs = [data]
        for block in re.findall(rb"[A-Za-z0-9+/=\n]{400,}", data):
            try:
                blobs.append(base64.b64decode(block.replace(b"\n", b""), validate=False))
            except ValueError:
                pass
        if any(v in blob for blob in blobs for v in values):
            found.append(str(path))
    return found


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs: a night's database fills it while it takes the reports file."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_naming_the_database_keeps_nothing_personal_and_the_next_night_recovers(
        tmp_path: Path, small_disk: Path) -> None:
    inbox, reports = _inbox(tmp_path / "inbox")
    url = f"sqlite:///{small_disk / 'xunqin.db'}"
    env = _env(tmp_path)
    failed = _night(inbox, url, env)
    assert failed.returncode == 1, failed.stderr[-2000:]
    said = [line for line in failed.stderr.splitlines() if line.startswith("xunqin: ")]
    assert len(said) == 1 and said[0].startswith(f"xunqin: {small_disk / 'xunqin.db'}: 磁盘空间不足"), said
    assert "Error logging to API" not in failed.stderr  # the night's logs reached its server before it stopped
    # Prefect kept no result or exception holding the rows it was writing, anywhere it writes
    values = _personal_values(reports)
    assert _files_holding(tmp_path / "prefect-home", values) == []
    assert oct((tmp_path / "prefect-home" / "storage").stat().st_mode & 0o777) == "0o700"
    assert not any(v.decode() in failed.stderr for v in values)

    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    again = _night(inbox, url, env)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout)
    assert summary["match"]["candidates_new"] > 0
    with db.engine(url).connect() as conn:
        statuses = [r[0] for r in conn.execute(sa.text("SELECT status FROM runs WHERE flow = 'nightly' ORDER BY id"))]
        # the failed night wrote its own end when the disk let it, else this night says so
        assert statuses in (["failed", "completed"], ["interrupted", "completed"])
        if statuses[0] == "interrupted":
            assert summary["recovered"]["interrupted_runs"] == [1]
        assert conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one() == len(reports)
    db.dispose(url)


def test_a_second_night_while_one_runs_says_who_holds_the_lock_and_exits(db_url: str, tmp_path: Path) -> None:
    url = db_url
    db.upgrade(url)
    inbox, _ = _inbox(tmp_path / "inbox", 20, 100)
    with locks.held(url, locks.NIGHT) as first:
        second = _night(inbox, url, _env(tmp_path))
    assert second.returncode == 3, second.stderr[-2000:]
    assert first.holder in second.stderr and "另一个夜间任务正在运行" in second.stderr
    with db.engine(url).connect() as conn:  # the second night touched nothing
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM source_files")).scalar_one() == 0
    assert sorted(p.name for p in inbox.iterdir()) == ["reports.csv", "stations.csv"]


def test_the_lock_is_exclusive_and_a_dead_holder_is_taken_over_and_reported(db_url: str) -> None:
    url = db_url
    db.upgrade(url)
    with locks.held(url, "test") as first:
        assert first.stale_holder is None
        with pytest.raises(locks.LockHeld):
            with locks.held(url, "test"):
                pass
    with locks.held(url, "test") as again:  # released: free again
        assert again.stale_holder is None
    # a holder that died without releasing (its row left behind; on PostgreSQL its connection,
    # and with it the advisory lock, is gone)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    stale = f"{socket.gethostname()}:{dead.stdout.strip()}:1"
    with db.engine(url).begin() as conn:
        conn.execute(sa.text("INSERT INTO locks (name, holder, acquired_at) VALUES ('test', :h, CURRENT_TIMESTAMP)"), {"h": stale})
    with locks.held(url, "test") as taken:
        assert taken.stale_holder == stale


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_night_leaves_no_prefect_server_running_and_sends_no_telemetry(tmp_path: Path) -> None:
    inbox, _ = _inbox(tmp_path / "inbox")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    night = subprocess.Popen([*XUNQIN, "nightly", "--inbox", str(inbox), "--db", url], env=_env(tmp_path), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server is None:
        for child in _children(night.pid):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"xunqin.flows.prefect_env" in cmdline:
                server = child
        time.sleep(0.2)
    assert server is not None, "the night started no local Prefect server"
    environ = dict(e.split(b"=", 1) for e in Path(f"/proc/{server}/environ").read_bytes().split(b"\0") if b"=" in e)
    assert environ[b"PREFECT_SERVER_ANALYTICS_ENABLED"] == b"false"
    time.sleep(3)  # mid-night
    night.send_signal(signal.SIGKILL)
    night.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(server):
        time.sleep(0.2)
    assert not _alive(server), "the killed night's Prefect server is still running"
    assert "telemetry" not in (night.stderr.read() if night.stderr else "").lower()


def test_a_finished_night_stops_its_server_and_logs_no_telemetry(tmp_path: Path) -> None:
    inbox, _ = _inbox(tmp_path / "inbox", 20, 100)
    done = _night(inbox, f"sqlite:///{tmp_path / 'x.db'}", _env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "telemetry" not in done.stderr.lower()
    home = str(tmp_path / "prefect-home").encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"xunqin.flows.prefect_env" in cmdline.read_bytes():
                environ = (cmdline.parent / "environ").read_bytes()
                assert b"PREFECT_HOME=" + home not in environ, "a finished night left its Prefect server running"
        except OSError:
            continue


@pytest.fixture
def private_postgres(tmp_path: Path):
    """A PostgreSQL server of this test's own (the shared one must keep running)."""
    if not IS_ROOT:
        pytest.skip("starting a private PostgreSQL here runs it as the postgres user (needs root)")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path("/tmp") / f"xunqin-pg-fault-{port}"
    env = {**os.environ, "XUNQIN_PG_DIR": str(folder), "XUNQIN_PG_PORT": str(port)}
    started = subprocess.run(["bash", str(REPO / "scripts" / "ci_postgres.sh")], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.skip(f"cannot start a private PostgreSQL: {started.stderr[-500:]}")
    bin_dir = next(Path("/usr/lib/postgresql").glob("*/bin"))

    def pg_ctl(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), *args],
                       check=True, capture_output=True, timeout=120)

    url = started.stdout.strip().splitlines()[-1].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield url, pg_ctl, port, folder
    finally:
        db.dispose(url)
        subprocess.run(["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(folder / "data"),
                        "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_stopped_mid_night_fails_clearly_and_the_next_night_recovers(
        tmp_path: Path, private_postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    from xunqin.flows.nightly import nightly
    from xunqin.flows.nightly_command import failure_message
    from xunqin.flows.tasks import StepFailed
    from xunqin.store import records

    url, pg_ctl, port, folder = private_postgres
    inbox, reports = _inbox(tmp_path / "inbox")
    real_mark = records.mark_matched

    def server_gone(*args, **kwargs):
        pg_ctl("-m", "immediate", "stop")  # the server dies under the night's last transaction
        return real_mark(*args, **kwargs)

    monkeypatch.setattr(records, "mark_matched", server_gone)
    with pytest.raises(StepFailed) as failed:
        nightly(inbox=str(inbox), db_url=url, top_k=5)
    message = failure_message(url, failed.value)
    assert message.startswith(f"xunqin: postgresql+psycopg://postgres@127.0.0.1:{port}/postgres: match-incremental: OperationalError")
    assert not any(v.decode() in message for v in _personal_values(reports))

    monkeypatch.setattr(records, "mark_matched", real_mark)
    pg_ctl("-w", "-l", str(folder / "server.log"), "-o",
           f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start")
    db.dispose(url)  # the pool's connections died with the server
    summary = nightly(inbox=str(inbox), db_url=url, top_k=5)
    assert summary["match"]["candidates_new"] > 0
    assert summary["recovered"]["interrupted_runs"] or summary["recovered"].get("stale_lock") is not None
    with db.engine(url).connect() as conn:
        # the files were taken before the server went; the night's match was redone whole
        assert conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one() == len(reports)
        assert conn.execute(sa.text("SELECT count(*) FROM reports WHERE matched_run_id IS NULL")).scalar_one() == 0
