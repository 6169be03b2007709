"""How xunqin runs Prefect: private, offline, and with no server left behind.

A civil-affairs system handling personal data must not phone home and must not leave that data
in Prefect's own files. ``private_settings()`` is applied by every ``xunqin`` command before
Prefect is imported (and is what ``prefect.yaml`` puts in the work pool's environment):

- analytics off (the server's start-up telemetry; ``Failed to send telemetry`` on a closed
  network);
- no result persistence: a task's return value or exception is never written to Prefect's
  result storage (a failed write's exception carried the rows it was writing), and that
  storage, if anything ever writes there, is a folder only its owner can read.

Without a Prefect server (``PREFECT_API_URL`` unset) Prefect would start an ephemeral API
server as a child process that outlives a killed night. ``local_server()`` starts that server
itself instead, tied to this process: the kernel stops it when the night's process dies
(``PR_SET_PDEATHSIG`` on Linux), and the server also watches its parent and exits when the
parent is gone (every platform).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path

PRIVATE_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false",
}
API_URL_ENV = "PREFECT_API_URL"
DB_SECRET_ENV = "XUNQIN_DB_URL_SECRET"
_PR_SET_PDEATHSIG = 1


def prefect_home(environ: MutableMapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def private_settings(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set xunqin's Prefect settings in ``environ`` (default: this process's), keeping any the
    operator set explicitly except the two that guard personal data; returns what is in force.

    Result persistence is forced off whatever the environment says: nothing xunqin's tasks
    return or raise belongs on disk outside the workstation database."""
    env = os.environ if environ is None else environ
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] = "false"
    env["PREFECT_TASKS_DEFAULT_PERSIST_RESULT"] = "false"
    storage = Path(env.get("PREFECT_LOCAL_STORAGE_PATH") or prefect_home(env) / "storage")
    storage.mkdir(parents=True, exist_ok=True)
    storage.chmod(0o700)
    env["PREFECT_LOCAL_STORAGE_PATH"] = str(storage)
    return {k: env[k] for k in (*PRIVATE_SETTINGS, "PREFECT_LOCAL_STORAGE_PATH")}


def database_url(url: str | None) -> str:
    """The database URL of a flow run: given, else from a Prefect Secret block named by
    $XUNQIN_DB_URL_SECRET, else $XUNQIN_DB_URL, else the SQLite default. A URL holding a
    password never travels as a flow parameter (Prefect stores parameters)."""
    from xunqin.store import db

    if not url and os.environ.get(DB_SECRET_ENV):
        from prefect.blocks.system import Secret

        url = str(Secret.load(os.environ[DB_SECRET_ENV]).get())
    return db.database_url(url)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def local_server(timeout: float = 60.0) -> Iterator[str | None]:
    """A Prefect API server on loopback for this process's runs, stopped when they end (or when
    this process dies); yields its API URL. With ``PREFECT_API_URL`` set, yields None and starts
    nothing (the runs go to that server)."""
    if os.environ.get(API_URL_ENV):
        yield None
        return
    private_settings()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "xunqin.flows.prefect_env", str(port), str(os.getpid())],
                            env=env, preexec_fn=_die_with_parent, stdout=subprocess.DEVNULL)
    try:
        _wait_healthy(url, proc, timeout)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                from prefect.logging.handlers import APILogWorker

                APILogWorker.drain_all(timeout=5)  # the night's last log lines reach the server before it stops
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the local Prefect server exited at start (code {proc.returncode})")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the local Prefect server did not answer within {timeout:.0f} s")


def _serve(port: int, parent: int) -> None:
    """The server process: Prefect's API app under uvicorn, exiting when ``parent`` is gone."""
    import threading

    import uvicorn

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)  # the night that owned this server is gone

    threading.Thread(target=watch_parent, name="xunqin-parent-watch", daemon=True).start()
    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=port,
                log_level="error", lifespan="on", server_header=False)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
