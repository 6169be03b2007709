"""Labelled pairs (reviewer 确认/排除, police 比中/未比中) for learning."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Label


def latest_labels(session: Session) -> pd.DataFrame:
    """The label in force per pair (the latest; a police result and a reviewer may disagree,
    and the later word stands): station_record_id, report_id, is_match, source, labelled_at."""
    last = sa.select(sa.func.max(Label.id).label("id")).group_by(Label.station_record_id, Label.report_id).subquery()
    rows = session.execute(sa.select(Label.station_record_id, Label.report_id, Label.is_match, Label.source,
                                     Label.labelled_at).join(last, Label.id == last.c.id)).all()
    return pd.DataFrame(rows, columns=["station_record_id", "report_id", "is_match", "source", "labelled_at"])


def labels_since(session: Session, since: dt.datetime | None) -> int:
    """How many labels were recorded after ``since`` (all, for None)."""
    stmt = sa.select(sa.func.count()).select_from(Label)
    if since is not None:
        stmt = stmt.where(Label.labelled_at > since)
    return int(session.scalar(stmt) or 0)
