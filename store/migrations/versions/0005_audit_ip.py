"""The client address of each audit entry; login attempts without the text typed as username.

``audit_log.ip``: the address a workstation action came from (the socket peer, or the address
a trusted proxy names). Login attempts now key the username by a digest (the throttle needs to
count per name, never to read it back) and are counted per address too, hence the index.
Attempts stored before this revision held the text typed as it was, possibly a password typed
into the wrong box: they are deleted (the throttle forgets at most 30 days of tries), and failed
or throttled logins in the audit log that name no account get the anonymous actor ``-``.

Revision ID: 0005_audit_ip
Revises: 0004_labels
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_ip"
down_revision = "0004_labels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("ip", sa.String(64), nullable=True))
    op.create_index("ix_web_login_attempts_ip_at", "web_login_attempts", ["ip", "at"])
    op.execute("DELETE FROM web_login_attempts")
    op.execute(
        "UPDATE audit_log SET actor = '-' WHERE action IN ('login_failed', 'login_throttled') "
        "AND actor NOT IN (SELECT username FROM web_users)"
    )


def downgrade() -> None:
    op.drop_index("ix_web_login_attempts_ip_at", "web_login_attempts")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("ip")
