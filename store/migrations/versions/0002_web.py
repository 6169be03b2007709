"""Review app: accounts, server-side sessions, login attempts, queue index, app state.

Revision ID: 0002_web
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_web"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("station", sa.String(200), nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("role IN ('staff', 'reviewer', 'police', 'admin')", name="ck_web_users_role"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
    )
    op.create_index("ix_web_login_attempts_user_ip_at", "web_login_attempts", ["username", "ip", "at"])
    op.create_table(
        "web_queue",
        sa.Column("station_record_id", sa.String(200), primary_key=True),
        sa.Column("station", sa.String(200), nullable=True),
        sa.Column("gender", sa.String(10), nullable=True),
        sa.Column("age_band", sa.String(10), nullable=False),
        sa.Column("age_text", sa.String(60), nullable=True),
        sa.Column("found_date", sa.String(10), nullable=True),
        sa.Column("waiting_since", sa.Date, nullable=False),
        sa.Column("best_score", sa.Float, nullable=False),
        sa.Column("best_probability", sa.Float, nullable=False),
        sa.Column("n_candidates", sa.Integer, nullable=False),
        sa.Column("n_undecided", sa.Integer, nullable=False),
        sa.Column("n_suspect", sa.Integer, nullable=False),
        sa.Column("n_pending", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    op.create_index("ix_web_queue_order", "web_queue", ["best_score", "waiting_since", "station_record_id"])
    op.create_index("ix_web_queue_station_order", "web_queue", ["station", "best_score", "waiting_since", "station_record_id"])
    op.create_table(
        "web_meta",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # The person page and the export look decisions up per station record and by date.
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_index("ix_decisions_decided_at", "decisions")
    for table in ("web_meta", "web_queue", "web_login_attempts", "web_sessions", "web_users"):
        op.drop_table(table)
