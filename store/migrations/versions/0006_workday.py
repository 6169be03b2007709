"""The station's working day: stations as data, a search-key index, uploads, queue columns.

* ``stations``: the admin-managed list of rescue stations (name, code, prefecture); accounts
  and uploads name one of them.
* ``search_keys``: one row per (record kind, record id, key type, key) of each current record
  version (name as written, dialect-folded sound of the full and the given name, ID number and
  its tail, place codes, found/missing date, station), so that a search is index lookups.
* ``uploads``: files staff and reviewers uploaded in the workstation, with their progress and
  counts (the rejects themselves are the ingest's ``rejects`` rows of the source file).
* ``web_queue`` gains name, hometown and hometown province (derived data: rebuilt on the next
  page view, so the table is emptied and its fingerprint dropped).
* ``candidates.created_at``: when the pair entered the queue (the dashboard's "first candidate");
  existing rows take their ``updated_at``.

Revision ID: 0006_workday
Revises: 0005_audit_ip
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_workday"
down_revision = "0005_audit_ip"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("prefecture", sa.String(100), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "search_keys",
        sa.Column("key_type", sa.String(10), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
    )
    # a record's keys: what a filter probes (and what replacing a record's keys deletes)
    op.create_index("ix_search_keys_record", "search_keys", ["kind", "record_id", "key_type", "key"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # waiting / reading / checking / saving / done / refused / failed
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=True),
        sa.Column("rows_in", sa.Integer, nullable=False),
        sa.Column("rows_taken", sa.Integer, nullable=False),
        sa.Column("rows_refused", sa.Integer, nullable=False),
        sa.Column("values_rejected", sa.Integer, nullable=False),
        sa.Column("warnings", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_uploads_username", "uploads", ["username", "id"])
    # web_queue is derived: drop and recreate with the new columns; the next page view rebuilds it.
    op.drop_index("ix_web_queue_station_order", "web_queue")
    op.drop_index("ix_web_queue_order", "web_queue")
    op.drop_table("web_queue")
    _create_queue(with_names=True)
    op.execute(sa.text("DELETE FROM web_meta WHERE key = 'queue_fingerprint'"))
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("created_at", TS, nullable=True))
    op.execute(sa.text("UPDATE candidates SET created_at = updated_at"))


def _create_queue(with_names: bool) -> None:
    names = [sa.Column("name", sa.String(100), nullable=True), sa.Column("hometown", sa.String(200), nullable=True),
             sa.Column("hometown_province", sa.String(40), nullable=True)] if with_names else []
    op.create_table(
        "web_queue",
        sa.Column("station_record_id", sa.String(200), primary_key=True),
        sa.Column("station", sa.String(200), nullable=True),
        *names,
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


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("created_at")
    op.drop_index("ix_web_queue_station_order", "web_queue")
    op.drop_index("ix_web_queue_order", "web_queue")
    op.drop_table("web_queue")
    _create_queue(with_names=False)
    op.execute(sa.text("DELETE FROM web_meta WHERE key = 'queue_fingerprint'"))
    op.drop_index("ix_uploads_username", "uploads")
    op.drop_table("uploads")
    op.execute(sa.text("DELETE FROM workstation WHERE key LIKE 'search_index_%'"))
    op.drop_index("ix_search_keys_record", "search_keys")
    op.drop_table("search_keys")
    op.drop_table("stations")
