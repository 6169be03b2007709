"""The deployment in prefect.yaml, deployed for real to the test session's Prefect API: the
database URL (with its password) must not end up among the parameters Prefect stores, and the
runs it starts have analytics and result persistence off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SECRET_URL = "postgresql://xunqin:s3cret-pw@db.example.internal/xunqin"


def test_prefect_yaml_passes_no_database_url_and_turns_analytics_off() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    deployment = next(d for d in spec["deployments"] if d["name"] == "xunqin-nightly")
    assert "db_url" not in deployment.get("parameters", {})
    assert not any("DB_URL" in str(v) for v in deployment.get("parameters", {}).values())
    env = deployment["work_pool"]["job_variables"]["env"]
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "false"


def test_prefect_deploy_stores_no_password(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    assert api, "the session's Prefect harness gives an API URL"
    env = {**os.environ, "PREFECT_API_URL": api, "XUNQIN_DB_URL": SECRET_URL, "XUNQIN_INBOX": str(tmp_path)}
    prefect = [sys.executable, "-m", "prefect"]
    subprocess.run([*prefect, "work-pool", "create", "xunqin", "--type", "process", "--overwrite"], env=env, cwd=REPO,
                   check=True, capture_output=True, text=True, timeout=120)
    done = subprocess.run([*prefect, "--no-prompt", "deploy", "--name", "xunqin-nightly"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("xunqin-nightly/xunqin-nightly")
    stored = repr(deployment.parameters) + repr(deployment.job_variables) + repr(deployment.pull_steps)
    assert "s3cret-pw" not in stored and SECRET_URL not in stored
    assert deployment.parameters == {"inbox": str(tmp_path)}
    assert deployment.job_variables["env"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
