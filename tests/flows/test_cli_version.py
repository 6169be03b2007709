"""`xunqin --version` says the installed package's version (the one pyproject.toml declares)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from xunqin.flows.cli import main

REPO = Path(__file__).resolve().parents[2]


def _declared_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_version_in_process(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"xunqin {_declared_version()}\n"


def test_version_of_the_installed_command():
    exe = Path(sys.executable).parent / "xunqin"
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"xunqin {_declared_version()}"
