"""Session-wide: caches the code writes outside a test's own folders go to a temporary folder."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Prefect as the xunqin command runs it (no telemetry, no persisted results), before any
    test imports it."""
    from xunqin.flows.prefect_env import PRIVATE_SETTINGS

    for key, value in PRIVATE_SETTINGS.items():
        os.environ[key] = value


@pytest.fixture(scope="session", autouse=True)
def user_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """Prepared-record snapshots of non-SQLite databases default to $XDG_CACHE_HOME/xunqin:
    keep the tests' out of the user's home."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before
