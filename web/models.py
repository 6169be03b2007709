"""Tables of the review app (accounts, sessions, login attempts, the queue index).

They live on the store's ``Base`` so one Alembic history covers the whole database; the schema
itself is created by migration ``0002_web``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from xunqin.store.models import Base, utcnow

ROLES = ("staff", "reviewer", "police", "admin")


class User(Base):
    """A workstation account; ``station`` is set for station staff only."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    role: Mapped[str] = mapped_column(sa.String(20))
    station: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """Server-side session: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class LoginAttempt(Base):
    """One login try (for throttling); kept 30 days. ``username`` holds a digest of the name
    typed (:func:`xunqin.web.auth.name_key`), never the text: a password typed into the username
    box is not stored; no password ever is."""

    __tablename__ = "web_login_attempts"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100))
    ip: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    success: Mapped[bool] = mapped_column(sa.Boolean)
    __table_args__ = (sa.Index("ix_web_login_attempts_user_ip_at", "username", "ip", "at"),
                      sa.Index("ix_web_login_attempts_ip_at", "ip", "at"))


class QueueEntry(Base):
    """One station person with open candidates: what the queue page sorts and filters.

    Derived from candidates, decisions and station records (rebuilt when they change), so the
    queue never parses record JSON or aggregates candidates per request.
    """

    __tablename__ = "web_queue"
    station_record_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    station: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    name: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)  # as the station wrote it
    hometown: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)  # as the person said it
    hometown_province: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)  # 河南省
    gender: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    age_band: Mapped[str] = mapped_column(sa.String(10))
    age_text: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    found_date: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    waiting_since: Mapped[dt.date] = mapped_column(sa.Date)
    best_score: Mapped[float] = mapped_column(sa.Float)
    best_probability: Mapped[float] = mapped_column(sa.Float)
    n_candidates: Mapped[int] = mapped_column(sa.Integer)
    n_undecided: Mapped[int] = mapped_column(sa.Integer)
    n_suspect: Mapped[int] = mapped_column(sa.Integer)
    n_pending: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(10))
    __table_args__ = (
        sa.Index("ix_web_queue_order", "best_score", "waiting_since", "station_record_id"),
        sa.Index("ix_web_queue_station_order", "station", "best_score", "waiting_since", "station_record_id"),
    )


class WebMeta(Base):
    """Small key/value state of the app (the fingerprint the queue index was built from)."""

    __tablename__ = "web_meta"
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
