"""The audit log: who did what to which record, when (ids and counts only, never values)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .models import AuditLog, utcnow


def add(session: Session, actor: str, action: str, *, entity: str | None = None, entity_id: str | None = None,
        run_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
    """One audit row; ``detail`` must hold ids and counts only."""
    session.add(AuditLog(at=utcnow(), actor=actor, action=action, entity=entity, entity_id=entity_id, run_id=run_id, detail=detail))


