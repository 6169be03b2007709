"""Workstation identity and pending-record indexes (for the matcher's prepared snapshot).

The snapshot of prepared records kept between nights names the database it mirrors by this
random id, so a cache never serves rows of another database at the same URL; the token of the
snapshot last written is kept here too (a database restored from a backup holds an older one).
The look-ups of an incremental night (pending versions, current versions up to a row id) use
the indexes.

Revision ID: 0003_instance
Revises: 0002_web
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003_instance"
down_revision = "0002_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "workstation",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(table, [{"key": "instance_id", "value": uuid.uuid4().hex}])
    for table in ("station_records", "reports"):
        op.create_index(f"ix_{table}_pending", table, ["matched_run_id"])
        op.create_index(f"ix_{table}_current_id", table, ["is_current", "id"])
    # the K-th score of every station record's list (what a new pair must beat), index only
    op.create_index("ix_candidates_station_rank", "candidates", ["station_record_id", "rank", "score"])


def downgrade() -> None:
    op.drop_index("ix_candidates_station_rank", "candidates")
    for table in ("reports", "station_records"):
        op.drop_index(f"ix_{table}_current_id", table)
        op.drop_index(f"ix_{table}_pending", table)
    op.drop_table("workstation")
