"""Workstation database: SQLAlchemy 2 models (the schema itself lives in Alembic migrations).

Records are versioned: the same record id with changed content is a new row with version + 1,
the old row is kept with ``is_current`` false. ``matched_run_id`` is NULL until a match run has
ranked that version: that is what makes the night incremental and a killed run resumable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")

# Reviewer decisions. 确认 (confirmed: the person is identified) is the closing decision:
# both the station record and the report leave the queue.
DECISIONS = ("疑似", "排除", "待定", "确认")
EXCLUDED = "排除"
CONFIRMED = "确认"
KINDS = ("stations", "reports")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Workstation(Base):
    """Facts about this database itself (key/value): ``instance_id`` is a random id set when
    the schema was created, naming the database in caches kept outside it."""

    __tablename__ = "workstation"
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class Run(Base):
    """One flow run (nightly, ingest or match) with its counts and timings."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    flow: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20), default="running")  # running/completed/failed/interrupted
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class SourceFile(Base):
    """A file taken from the inbox (or quarantined), keyed by content hash for idempotence."""

    __tablename__ = "source_files"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_name: Mapped[str] = mapped_column(sa.String(500))
    kind: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20))  # taken / quarantined
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    rows_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_new: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(sa.Integer, default=0)
    rejects: Mapped[int] = mapped_column(sa.Integer, default=0)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("runs.id"), nullable=True)
    taken_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class _RecordMixin:
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    is_current: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JsonType)  # the row as sent (text per column)
    normalized: Mapped[dict[str, Any]] = mapped_column(JsonType)  # ingest's normalized columns
    source_row: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    matched_run_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)


class StationRecord(_RecordMixin, Base):
    __tablename__ = "station_records"
    record_id: Mapped[str] = mapped_column(sa.String(200))
    source_file_id: Mapped[int] = mapped_column(sa.ForeignKey("source_files.id"))
    __table_args__ = (
        sa.UniqueConstraint("record_id", "version", name="uq_station_records_version"),
        sa.Index("ix_station_records_current", "record_id", "is_current"),
        sa.Index("ix_station_records_pending", "matched_run_id"),
        sa.Index("ix_station_records_current_id", "is_current", "id"),
    )


class Report(_RecordMixin, Base):
    __tablename__ = "reports"
    report_id: Mapped[str] = mapped_column(sa.String(200))
    source_file_id: Mapped[int] = mapped_column(sa.ForeignKey("source_files.id"))
    __table_args__ = (
        sa.UniqueConstraint("report_id", "version", name="uq_reports_version"),
        sa.Index("ix_reports_current", "report_id", "is_current"),
        sa.Index("ix_reports_pending", "matched_run_id"),
        sa.Index("ix_reports_current_id", "is_current", "id"),
    )


class Reject(Base):
    """Rows/values the ingest could not take (file, row, column, value, reason, severity)."""

    __tablename__ = "rejects"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    source_file_id: Mapped[int] = mapped_column(sa.ForeignKey("source_files.id"), index=True)
    row: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    column: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    value: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(20))


class MatchModel(Base):
    """A trained model as readable JSON; ``version`` is the hash of that JSON."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64), unique=True)
    body: Mapped[str] = mapped_column(sa.Text)  # exact JSON text (floats round-trip exactly)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    training: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)  # label and pair counts
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)  # on held-out labels
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # why it was (not) activated


class Candidate(Base):
    """The current review queue: one row per pair, ranked within its station record."""

    __tablename__ = "candidates"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    station_record_id: Mapped[str] = mapped_column(sa.String(200))
    report_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    rank: Mapped[int] = mapped_column(sa.Integer)
    score: Mapped[float] = mapped_column(sa.Float)
    probability: Mapped[float] = mapped_column(sa.Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonType)
    model_version: Mapped[str] = mapped_column(sa.String(64))
    run_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # when the pair entered the queue (a rescored pair keeps it)
    created_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True, default=utcnow)
    __table_args__ = (
        sa.UniqueConstraint("station_record_id", "report_id", name="uq_candidates_pair"),
        sa.Index("ix_candidates_station_rank", "station_record_id", "rank", "score"),
    )


class Decision(Base):
    """Reviewer decisions, append-only: the latest row per pair is in force."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    station_record_id: Mapped[str] = mapped_column(sa.String(200))
    report_id: Mapped[str] = mapped_column(sa.String(200))
    decision: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    reviewer: Mapped[str] = mapped_column(sa.String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        sa.CheckConstraint("decision IN ('疑似', '排除', '待定', '确认')", name="ck_decisions_decision"),
        sa.Index("ix_decisions_pair", "station_record_id", "report_id"),
    )


class AuditLog(Base):
    """Who did what to which entity; ``detail`` holds ids and counts, never personal data."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(60))
    entity: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    entity_id: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    run_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    ip: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # client address of a workstation action


POLICE_RESULTS = ("confirmed", "ruled_out", "open")


class PoliceResult(Base):
    """One row of a police verification results file, as taken (every row, open ones too)."""

    __tablename__ = "police_results"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    station_record_id: Mapped[str] = mapped_column(sa.String(200))
    report_id: Mapped[str] = mapped_column(sa.String(200))
    result: Mapped[str] = mapped_column(sa.String(20))  # confirmed / ruled_out / open
    result_text: Mapped[str] = mapped_column(sa.String(40))  # as written: 比中, 非本人 ...
    method: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    verified_on: Mapped[dt.date | None] = mapped_column(sa.Date, nullable=True)
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    was_exported: Mapped[bool] = mapped_column(sa.Boolean)  # the pair was sent to the police as 疑似
    source_file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("source_files.id"), nullable=True)
    source_row: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        sa.CheckConstraint("result IN ('confirmed', 'ruled_out', 'open')", name="ck_police_results_result"),
        sa.Index("ix_police_results_pair", "station_record_id", "report_id"),
    )


class Label(Base):
    """A labelled pair the model learns from: a reviewer's 确认/排除 or a police 比中/未比中."""

    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    station_record_id: Mapped[str] = mapped_column(sa.String(200))
    report_id: Mapped[str] = mapped_column(sa.String(200))
    is_match: Mapped[bool] = mapped_column(sa.Boolean)
    source: Mapped[str] = mapped_column(sa.String(20))  # reviewer / police
    actor: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    decision_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    police_result_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    labelled_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        sa.CheckConstraint("source IN ('reviewer', 'police')", name="ck_labels_source"),
        sa.Index("ix_labels_pair", "station_record_id", "report_id"),
        sa.Index("ix_labels_labelled_at", "labelled_at"),
    )


class Reunion(Base):
    """A person gone home: the confirmed pair, when, and how it was verified."""

    __tablename__ = "reunions"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    station_record_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    report_id: Mapped[str] = mapped_column(sa.String(200))
    reunited_on: Mapped[dt.date] = mapped_column(sa.Date)
    method: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    police_result_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Lock(Base):
    """A named lock held in the database (the night's): who holds it, since when."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))  # host:pid
    run_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    acquired_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Station(Base):
    """A rescue station on the admin-managed list: accounts and uploads name one of these."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)  # 长春市救助管理站
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    prefecture: Mapped[str] = mapped_column(sa.String(100))  # 长春市
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class SearchKey(Base):
    """One search key of a record's current version (see :mod:`xunqin.store.search`)."""

    __tablename__ = "search_keys"
    key_type: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # stations / reports
    record_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    __table_args__ = (sa.Index("ix_search_keys_record", "kind", "record_id", "key_type", "key"),)


UPLOAD_STATUSES = ("waiting", "reading", "checking", "saving", "done", "refused", "failed")


class Upload(Base):
    """A file uploaded in the workstation: its progress and what the ingest made of it."""

    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)  # in the result page's address
    username: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(20))  # stations / reports
    file_name: Mapped[str] = mapped_column(sa.String(500))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20))
    message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # Chinese, when refused or failed
    source_file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("source_files.id"), nullable=True)
    rows_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_taken: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_refused: Mapped[int] = mapped_column(sa.Integer, default=0)
    values_rejected: Mapped[int] = mapped_column(sa.Integer, default=0)
    warnings: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    __table_args__ = (sa.Index("ix_uploads_username", "username", "id"),)
