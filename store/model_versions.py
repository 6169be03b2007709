"""Stored match models: readable JSON, one of them active."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import audit_log
from .models import MatchModel, utcnow


def model_version(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def active_model(session: Session) -> tuple[str, dict[str, Any]] | None:
    """(version, model dict) of the active model, None when none was trained yet."""
    row = session.scalars(sa.select(MatchModel).where(MatchModel.is_active).order_by(MatchModel.id.desc())).first()
    return None if row is None else (row.version, json.loads(row.body))


def save_model(session: Session, model_dict: dict[str, Any], run_id: int | None, *, activate: bool = True,
               training: dict[str, Any] | None = None, evaluation: dict[str, Any] | None = None,
               note: str | None = None, actor: str = "nightly") -> str:
    """Store a model's JSON (with its training counts and evaluation), active or not; returns
    its version (the hash of the JSON)."""
    body = json.dumps(model_dict, ensure_ascii=False, sort_keys=True, indent=1)
    version = model_version(body)
    existing = session.scalars(sa.select(MatchModel).where(MatchModel.version == version)).first()
    if activate:
        session.execute(sa.update(MatchModel).where(MatchModel.is_active).values(is_active=False))
    if existing is None:
        existing = MatchModel(version=version, body=body, is_active=activate, created_at=utcnow(), run_id=run_id,
                              training=training, evaluation=evaluation, note=note)
        session.add(existing)
    else:
        existing.is_active = existing.is_active or activate
        existing.training, existing.evaluation = training or existing.training, evaluation or existing.evaluation
        existing.note = note or existing.note
    session.flush()
    audit_log.add(session, actor, "model_saved", entity="model", entity_id=str(existing.id), run_id=run_id,
                  detail={"version": version, "active": bool(existing.is_active)})
    return version


def list_models(session: Session) -> list[MatchModel]:
    """Every stored version, oldest first."""
    return list(session.scalars(sa.select(MatchModel).order_by(MatchModel.id)))


def activate(session: Session, number: int, actor: str) -> MatchModel:
    """Make version ``number`` (its id in `xunqin model list`) the active one."""
    row = session.get(MatchModel, number)
    if row is None:
        raise LookupError(f"没有编号为 {number} 的模型版本 (no model version {number})")
    session.execute(sa.update(MatchModel).where(MatchModel.is_active).values(is_active=False))
    row.is_active = True
    session.flush()
    audit_log.add(session, actor, "model_activated", entity="model", entity_id=str(number), detail={"version": row.version})
    return row


def active_row(session: Session) -> MatchModel | None:
    return session.scalars(sa.select(MatchModel).where(MatchModel.is_active).order_by(MatchModel.id.desc())).first()

