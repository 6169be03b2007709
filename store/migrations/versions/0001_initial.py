"""Initial schema: runs, source files, versioned records, rejects, models, candidates, decisions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _record_table(name: str, key: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(key, sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("normalized", JSON, nullable=False),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=False),
        sa.Column("source_row", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("matched_run_id", sa.Integer, nullable=True),
        sa.UniqueConstraint(key, "version", name=f"uq_{name}_version"),
    )
    op.create_index(f"ix_{name}_current", name, [key, "is_current"])


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flow", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("rows_in", sa.Integer, nullable=False),
        sa.Column("rows_new", sa.Integer, nullable=False),
        sa.Column("rows_changed", sa.Integer, nullable=False),
        sa.Column("rows_unchanged", sa.Integer, nullable=False),
        sa.Column("rejects", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("taken_at", TS, nullable=False),
    )
    _record_table("station_records", "record_id")
    _record_table("reports", "report_id")
    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=False, index=True),
        sa.Column("row", sa.Integer, nullable=True),
        sa.Column("column", sa.String(100), nullable=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.String(64), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_record_id", sa.String(200), nullable=False),
        sa.Column("report_id", sa.String(200), nullable=False, index=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("station_record_id", "report_id", name="uq_candidates_pair"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_record_id", sa.String(200), nullable=False),
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.CheckConstraint("decision IN ('疑似', '排除', '待定', '确认')", name="ck_decisions_decision"),
    )
    op.create_index("ix_decisions_pair", "decisions", ["station_record_id", "report_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity", sa.String(60), nullable=True),
        sa.Column("entity_id", sa.String(200), nullable=True),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("detail", JSON, nullable=True),
    )


def downgrade() -> None:
    for table in ("audit_log", "decisions", "candidates", "models", "rejects", "reports", "station_records", "source_files", "runs"):
        op.drop_table(table)
