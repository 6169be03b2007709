"""Progress of a long command on the console (stderr): bars on a terminal, a few lines otherwise.

The matcher reports through a plain ``progress(message)`` callable (``xunqin.matching.progress``);
a counted step (``Counted``: pairs compared, shards done) becomes a rich progress bar on a
terminal. When stderr is not a terminal (a log file, CI, a cron mail) every message is a
timestamped line, and a counted step only at its start, at each quarter and at its end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from xunqin.matching.progress import Counted


def _stamped(message: str) -> str:
    return f"[{time.strftime('%H:%M:%S')}] {message}"


class PlainLines:
    """Messages as lines; a counted step at its start, each quarter and its end."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._quarter: dict[str, int] = {}  # per counted step, the quarter last shown

    def __call__(self, message: str) -> None:
        if isinstance(message, Counted):
            quarter = 4 * message.done // max(message.total, 1)
            if self._quarter.get(message.step) == quarter:
                return
            self._quarter[message.step] = quarter
        print(_stamped(message), file=self._stream, flush=True)


class Bars:
    """Messages printed above the bars; a bar per counted step while it runs, then its last line."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._tasks: dict[str, tuple[TaskID, int]] = {}  # per step: its bar and the count shown

    def __call__(self, message: str) -> None:
        if not isinstance(message, Counted):
            self._bars.console.print(Text(_stamped(message)))  # Text: no markup read into file names
            return
        task, shown = self._tasks.pop(message.step, (None, 0))
        if task is not None and message.done < shown:  # the step started again
            self._bars.remove_task(task)
            task = None
        if task is None:
            task = self._bars.add_task(message.step, total=message.total)
        if message.done >= message.total:  # done: the bar gives way to the step's line
            self._bars.remove_task(task)
            self._bars.console.print(Text(_stamped(message)))
            return
        self._bars.update(task, completed=message.done, total=message.total, refresh=True)
        self._tasks[message.step] = (task, message.done)


@contextmanager
def console_progress(console: Console | None = None) -> Iterator[PlainLines | Bars]:
    """A progress callable for the matcher, for as long as the command runs."""
    console = console or Console(stderr=True)
    if not console.is_terminal or console.is_dumb_terminal:
        yield PlainLines(console.file)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bars:
        yield Bars(bars)
