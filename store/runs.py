"""Runs of the nightly flows: started, finished, interrupted."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Run, utcnow


def start_run(session: Session, flow: str) -> int:
    run = Run(flow=flow, status="running", started_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, status: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
    session.execute(
        sa.update(Run).where(Run.id == run_id).values(status=status, finished_at=utcnow(), summary=summary, error=error)
    )


def interrupt_stale_runs(session: Session, flow: str) -> list[int]:
    """Runs of ``flow`` still 'running' (the process was killed) -> 'interrupted'; their ids."""
    ids = list(session.scalars(sa.select(Run.id).where(Run.flow == flow, Run.status == "running").order_by(Run.id)))
    if ids:
        session.execute(sa.update(Run).where(Run.id.in_(ids)).values(status="interrupted", finished_at=utcnow()))
    return ids
