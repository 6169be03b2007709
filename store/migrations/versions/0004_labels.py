"""Labels, police results, reunions, model versions with their evaluation, the night lock.

Reviewer decisions 确认/排除 and police results 比中/未比中 are labelled pairs the model learns
from; a police 比中 records a reunion; every model version keeps its training counts and its
evaluation on labels it did not see; a night holds a lock row while it runs.

Revision ID: 0004_labels
Revises: 0003_instance
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_labels"
down_revision = "0003_instance"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "police_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_record_id", sa.String(200), nullable=False),
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),  # confirmed / ruled_out / open
        sa.Column("result_text", sa.String(40), nullable=False),  # as written: 比中, 非本人 ...
        sa.Column("method", sa.String(40), nullable=True),
        sa.Column("verified_on", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("was_exported", sa.Boolean, nullable=False),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=True),
        sa.Column("source_row", sa.Integer, nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.CheckConstraint("result IN ('confirmed', 'ruled_out', 'open')", name="ck_police_results_result"),
    )
    op.create_index("ix_police_results_pair", "police_results", ["station_record_id", "report_id"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_record_id", sa.String(200), nullable=False),
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("is_match", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),  # reviewer / police
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),  # the decision's note or the police method/note
        sa.Column("decision_id", sa.Integer, nullable=True),
        sa.Column("police_result_id", sa.Integer, nullable=True),
        sa.Column("labelled_at", TS, nullable=False),
        sa.CheckConstraint("source IN ('reviewer', 'police')", name="ck_labels_source"),
    )
    op.create_index("ix_labels_pair", "labels", ["station_record_id", "report_id"])
    op.create_index("ix_labels_labelled_at", "labels", ["labelled_at"])
    op.create_table(
        "reunions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("station_record_id", sa.String(200), nullable=False, unique=True),
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("reunited_on", sa.Date, nullable=False),
        sa.Column("method", sa.String(40), nullable=True),
        sa.Column("police_result_id", sa.Integer, nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
    )
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("training", JSON, nullable=True))  # label and pair counts
        batch.add_column(sa.Column("evaluation", JSON, nullable=True))  # on held-out labels
        batch.add_column(sa.Column("note", sa.Text, nullable=True))  # why (not) activated
    op.create_table(
        "locks",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),  # host:pid
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("acquired_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("locks")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("note")
        batch.drop_column("evaluation")
        batch.drop_column("training")
    op.drop_table("reunions")
    op.drop_index("ix_labels_labelled_at", "labels")
    op.drop_index("ix_labels_pair", "labels")
    op.drop_table("labels")
    op.drop_index("ix_police_results_pair", "police_results")
    op.drop_table("police_results")
