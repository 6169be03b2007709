"""How the matcher tells the command running it how far it is.

A progress callback is any ``callable(message: str)``: the matcher calls it with one line per
step (preparing, blocking, training…). A step that counts (pairs compared, shards done) sends a
:class:`Counted` message: a plain ``str`` (a callback that prints or logs messages keeps working
and shows the same line as before) that also carries the step's name and its counts, for a
callback that draws a bar (``xunqin.flows.progress``). Nothing here draws anything.
"""

from __future__ import annotations

from typing import Callable

Progress = Callable[[str], None]


class Counted(str):
    """``"comparing: 1,000,000/27,000,000 pairs"`` that also knows its step, done and total."""

    step: str
    done: int
    total: int
    unit: str

    def __new__(cls, step: str, done: int, total: int, unit: str = "") -> Counted:
        message = super().__new__(cls, f"{step}: {done:,}/{total:,}" + (f" {unit}" if unit else ""))
        message.step, message.done, message.total, message.unit = step, int(done), int(total), unit
        return message
