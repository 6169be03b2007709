"""Workstation-wide values (the database's instance id, snapshot tokens)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Workstation


def instance_id(session: Session) -> str:
    """The random id this database got when its schema was created."""
    found = get_value(session, "instance_id")
    if found is None:
        raise LookupError("database has no instance id: run its migrations (xunqin.store.db.upgrade)")
    return found


def get_value(session: Session, key: str) -> str | None:
    return session.scalar(sa.select(Workstation.value).where(Workstation.key == key))


def set_value(session: Session, key: str, value: str) -> None:
    row = session.get(Workstation, key)
    if row is None:
        session.add(Workstation(key=key, value=value))
    else:
        row.value = value
    session.flush()
