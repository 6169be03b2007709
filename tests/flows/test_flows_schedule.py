"""The 02:00 Asia/Shanghai schedule (prefect.yaml and `xunqin serve`) and the nightly command."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
import yaml

from xunqin.flows import cli, nightly_command
from xunqin.flows import nightly as nightly_mod

REPO = Path(__file__).resolve().parents[2]


def _deployment() -> dict:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in spec["deployments"]}["xunqin-nightly"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("schedules", 0, "cron"), "0 2 * * *"),
        (("schedules", 0, "timezone"), "Asia/Shanghai"),
        (("schedules", 0, "active"), True),
        (("entrypoint",), "flows/nightly.py:nightly"),
        (("concurrency_limit",), 1),
    ],
)
def test_prefect_yaml_declares_the_nightly_schedule(path: tuple, expected: object) -> None:
    node = _deployment()
    for part in path:
        node = node[part]
    assert node == expected


def test_prefect_yaml_entrypoint_is_the_nightly_flow() -> None:
    from prefect.flows import load_flow_from_entrypoint

    file, name = _deployment()["entrypoint"].split(":")
    flow = load_flow_from_entrypoint(f"{REPO / file}:{name}")
    assert flow.name == nightly_mod.nightly.name == "xunqin-nightly"


@pytest.mark.parametrize(
    ("inbox", "db", "expected_params"),
    [
        ("/data/inbox", None, {"inbox": "/data/inbox"}),
        ("/data/inbox", "postgresql://x@h/db", {"inbox": "/data/inbox", "db_url": "postgresql://x@h/db"}),
    ],
)
def test_serve_with_a_prefect_server_uses_the_0200_shanghai_cron(monkeypatch: pytest.MonkeyPatch, inbox: str,
                                                                 db: str | None, expected_params: dict) -> None:
    seen: dict = {}
    monkeypatch.setattr(nightly_mod, "_prefect_server_configured", lambda: True)
    monkeypatch.setattr(nightly_mod.nightly, "serve", lambda **kw: seen.update(kw))
    nightly_mod.serve(inbox=inbox, db_url=db)
    schedule = seen["schedule"]
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert seen["parameters"] == expected_params and seen["name"] == "xunqin-nightly"


def test_serve_in_local_mode_waits_for_0200_and_runs_the_night(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    naps: list[float] = []
    monkeypatch.setattr(nightly_mod, "_prefect_server_configured", lambda: False)
    monkeypatch.setattr(nightly_mod, "nightly", lambda **kw: calls.append(kw))
    clock = {"now": dt.datetime(2026, 3, 1, 17, 59, tzinfo=dt.timezone.utc)}  # 01:59 in Shanghai

    class FakeDateTime(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return clock["now"]

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock["now"] += dt.timedelta(seconds=seconds)

    monkeypatch.setattr(nightly_mod.dt, "datetime", FakeDateTime)
    nightly_mod.serve(inbox="/in", max_runs=2, sleep=nap)
    assert calls == [{"inbox": "/in"}, {"inbox": "/in"}]
    assert naps[0] == 60.0  # one minute to 02:00
    assert sum(naps) == pytest.approx(60.0 + 24 * 3600)  # then the next night


SH = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 3, 1, 17, 59, tzinfo=dt.timezone.utc), dt.datetime(2026, 3, 2, 2, 0, tzinfo=SH)),
        (dt.datetime(2026, 3, 1, 18, 0, tzinfo=dt.timezone.utc), dt.datetime(2026, 3, 3, 2, 0, tzinfo=SH)),  # exactly 02:00: next day
        (dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc), dt.datetime(2026, 3, 2, 2, 0, tzinfo=SH)),  # 20:00 Shanghai
        (dt.datetime(2026, 12, 31, 19, 0, tzinfo=dt.timezone.utc), dt.datetime(2027, 1, 2, 2, 0, tzinfo=SH)),  # 03:00 on Jan 1
        (dt.datetime(2026, 2, 28, 17, 0, tzinfo=SH), dt.datetime(2026, 3, 1, 2, 0, tzinfo=SH)),
    ],
)
def test_next_run_is_0200_in_shanghai(now: dt.datetime, expected: dt.datetime) -> None:
    got = nightly_mod.next_run(now)
    assert got == expected and got.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("cron", ["*/5 * * * *", "0 2 * * 1", "0 2", ""])
def test_next_run_refuses_other_crons(cron: str) -> None:
    with pytest.raises(ValueError):
        nightly_mod.next_run(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), cron=cron)


@pytest.mark.parametrize(
    ("argv", "env", "code"),
    [
        (["nightly"], None, 2),  # no inbox anywhere
        (["nightly", "--inbox", "/no/such/folder"], None, 2),
        (["nightly"], "/no/such/folder", 2),
        (["serve", "--inbox", ""], None, 2),
    ],
)
def test_nightly_command_refuses_a_missing_inbox(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                                 argv: list[str], env: str | None, code: int) -> None:
    if env is None:
        monkeypatch.delenv(nightly_command.INBOX_ENV, raising=False)
    else:
        monkeypatch.setenv(nightly_command.INBOX_ENV, env)
    assert cli.main(argv) == code
    assert "inbox" in capsys.readouterr().err


def test_nightly_command_arguments() -> None:
    parser = argparse.ArgumentParser()
    nightly_command.add_arguments(parser)
    args = parser.parse_args(["--inbox", "in", "--db", "sqlite:///x.db", "--top-k", "7"])
    assert (args.inbox, args.db, args.top_k, args.archive, args.quarantine) == ("in", "sqlite:///x.db", 7, None, None)


@pytest.mark.parametrize(
    ("url", "param", "env"),
    [
        (None, None, None),
        ("sqlite:///x.db", "sqlite:///x.db", None),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db", None),
        ("postgresql://u:s3cret@h/db", None, "postgresql://u:s3cret@h/db"),  # a password never becomes a parameter
    ],
)
def test_database_url_with_a_password_is_not_a_flow_parameter(monkeypatch: pytest.MonkeyPatch, url, param, env) -> None:
    monkeypatch.delenv(nightly_command.URL_ENV, raising=False)
    assert nightly_command._url_param(url) == param
    import os

    assert os.environ.get(nightly_command.URL_ENV) == env
