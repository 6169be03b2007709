"""Progress of long commands: bars on a terminal, a few plain lines in a log; the matcher's plain
``progress(message)`` callables keep working."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from xunqin.flows.progress import Bars, PlainLines, console_progress
from xunqin.matching.progress import Counted

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
XUNQIN = Path(sys.executable).parent / "xunqin"
ANSI = re.compile(r"\x1b\[")
STAMP = r"\[\d\d:\d\d:\d\d\] "


def _a_long_compare(say, chunks: int = 27, per_chunk: int = 1_000_000) -> None:
    say("blocking: 27,000,000 candidate pairs from 15 passes")
    total = chunks * per_chunk
    for k in range(1, chunks + 1):
        say(Counted("comparing", k * per_chunk, total, "pairs"))
    say("training: u from random pairs, m by EM on blocked pairs")


def test_a_counted_message_is_the_line_it_always_was():
    message = Counted("comparing", 1_000_000, 27_000_000, "pairs")
    assert message == "comparing: 1,000,000/27,000,000 pairs" and isinstance(message, str)
    assert (message.step, message.done, message.total) == ("comparing", 1_000_000, 27_000_000)
    assert f"[x] {message}" == "[x] comparing: 1,000,000/27,000,000 pairs"


def test_not_a_terminal_gives_a_few_lines():
    stream = io.StringIO()
    with console_progress(Console(file=stream)) as say:  # a StringIO is no terminal
        assert isinstance(say, PlainLines)
        _a_long_compare(say)
    lines = stream.getvalue().splitlines()
    comparing = [line for line in lines if "comparing" in line]
    assert len(comparing) == 5, comparing  # start, each quarter, end: not 27
    assert comparing[0].endswith("comparing: 1,000,000/27,000,000 pairs")
    assert comparing[-1].endswith("comparing: 27,000,000/27,000,000 pairs")
    assert all(re.match(STAMP, line) for line in lines)
    assert lines[0].endswith("blocking: 27,000,000 candidate pairs from 15 passes")
    assert lines[-1].endswith("training: u from random pairs, m by EM on blocked pairs")
    assert not ANSI.search(stream.getvalue())


def test_a_step_that_starts_again_is_shown_again():
    stream = io.StringIO()
    say = PlainLines(stream)
    for _ in range(2):
        say(Counted("shards", 0, 4))
        say(Counted("shards", 4, 4))
    assert stream.getvalue().count("shards: 0/4") == 2 and stream.getvalue().count("shards: 4/4") == 2


def test_a_terminal_gets_a_bar_then_the_steps_last_line():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    with console_progress(console) as say:
        assert isinstance(say, Bars)
        say("reading [bold]stations.csv[/bold]")  # a file name is shown as written, never as markup
        for k in range(1, 4):
            say(Counted("comparing", k, 4, "pairs"))
        running = stream.getvalue()
        say(Counted("comparing", 4, 4, "pairs"))
    shown = stream.getvalue()
    assert "━" in running and "3/4" in running  # the bar, with its count
    assert "reading [bold]stations.csv[/bold]" in shown
    assert re.search(STAMP + "comparing: 4/4 pairs", shown)
    assert "comparing: 2/4" not in shown  # no line per chunk


def _match_args(tmp_path: Path) -> list[str]:
    return [str(XUNQIN), "match", "--stations", str(SAMPLE / "stations.csv"), "--reports",
            str(SAMPLE / "reports.csv"), "--out", str(tmp_path / "c.csv")]


def test_match_on_a_terminal_draws_a_bar(tmp_path):
    main_end, command_end = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    command = subprocess.Popen(_match_args(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=command_end, env=env)
    os.close(command_end)
    chunks = []
    while True:
        try:
            data = os.read(main_end, 65536)
        except OSError:  # the command closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_end)
    assert command.wait(timeout=300) == 0
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "━" in shown and ANSI.search(shown)
    # the bar ends on the whole count, and the command's last line follows it
    assert re.search(r"comparing: ([\d,]+)/\1 pairs", shown) and re.search(r"wrote [\d,]+ candidate rows", shown)


def test_match_in_a_log_writes_plain_lines(tmp_path):
    done = subprocess.run(_match_args(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not ANSI.search(done.stderr) and "━" not in done.stderr
    lines = done.stderr.splitlines()
    assert all(re.match(STAMP, line) for line in lines), lines
    assert 1 <= sum("comparing" in line for line in lines) <= 5
    written = len(pd.read_csv(tmp_path / "c.csv"))
    assert lines[-1].endswith(f"wrote {written:,} candidate rows to " + str(tmp_path / "c.csv"))


def test_a_plain_callable_still_hears_every_step():
    """Other code (the nightly flow's logger, sharded matching) passes ``progress=print``-like callables."""
    from xunqin.ingest import ingest_files
    from xunqin.matching.pipeline import match

    tables = ingest_files(SAMPLE / "stations.csv", SAMPLE / "reports.csv")
    heard: list[str] = []
    match(tables.stations, tables.reports, progress=heard.append)
    assert all(type(m) in (str, Counted) for m in heard)
    assert heard[0] == "preparing 300 station records and 3,000 reports"
    assert any(re.fullmatch(r"comparing: ([\d,]+)/\1 pairs", m) for m in heard)
    assert any(m.startswith("training: ") for m in heard) and heard[-1].startswith("ranked: ")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_model_train_reports_its_progress(db_url, tmp_path, capfd):
    from test_model_versions import _labelled_night  # the labelled night those tests train on

    from xunqin.flows.cli import main

    _labelled_night(tmp_path, db_url)
    capfd.readouterr()
    assert main(["model", "train", "--db", db_url]) == 0
    captured = capfd.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].endswith("reading the records held") and all(re.match(STAMP, line) for line in lines)
    assert any(re.search(r"comparing: [\d,]+/[\d,]+ pairs$", line) for line in lines)
    assert any(re.search(r"fitting a version on [\d,]+ labels$", line) for line in lines)
    assert "模型版本 2" in captured.out


def test_a_match_in_one_process_never_loads_prefect_or_dask(tmp_path):
    """Prefect and Dask are for --workers/--dask and the nightly batch: at S their import was
    1.5 s of a 14 s match."""
    code = (
        "import sys\n"
        "from xunqin.flows.cli import main\n"
        f"status = main(['match', '--stations', {str(SAMPLE / 'stations.csv')!r}, '--reports', "
        f"{str(SAMPLE / 'reports.csv')!r}, '--out', {str(tmp_path / 'c.csv')!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'prefect_dask', 'distributed', 'dask'})\n"
        "print('loaded:', loaded)\n"
        "raise SystemExit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded: []" in done.stdout
    assert len(pd.read_csv(tmp_path / "c.csv")) > 0


def test_the_files_are_read_before_a_progress_bar_starts(tmp_path, monkeypatch):
    """On a terminal the bar's refresh thread runs from its start, and the ingest forks its second
    process only in a process without other threads: the files must be read first."""
    from contextlib import contextmanager

    from xunqin.flows import match_command
    from xunqin.flows.cli import main

    events = []
    real_progress, real_ingest = match_command.console_progress, match_command.ingest_files

    @contextmanager
    def watched_progress(*args, **kwargs):
        events.append("progress starts")
        with real_progress(*args, **kwargs) as say:
            yield say

    def watched_ingest(**kwargs):
        events.append("read")
        return real_ingest(**kwargs)

    monkeypatch.setattr(match_command, "console_progress", watched_progress)
    monkeypatch.setattr(match_command, "ingest_files", watched_ingest)
    assert main(["match", "--stations", str(SAMPLE / "stations.csv"), "--reports", str(SAMPLE / "reports.csv"),
                 "--out", str(tmp_path / "c.csv")]) == 0
    assert events == ["read", "progress starts"]
