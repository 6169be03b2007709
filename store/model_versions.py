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


def save_model(session: Session, model_dict: dict[str, Any], run_id: int | None) -> str:
    """Store a model's JSON and make it the active one; returns its version."""
    body = json.dumps(model_dict, ensure_ascii=False, sort_keys=True, indent=1)
    version = model_version(body)
    existing = session.scalars(sa.select(MatchModel).where(MatchModel.version == version)).first()
    session.execute(sa.update(MatchModel).where(MatchModel.is_active).values(is_active=False))
    if existing is None:
        session.add(MatchModel(version=version, body=body, is_active=True, created_at=utcnow(), run_id=run_id))
    else:
        existing.is_active = True
    audit_log.add(session, "nightly", "model_saved", entity="model", entity_id=version, run_id=run_id)
    session.flush()
    return version

