"""tokens.session_expires_at: the channel's absolute session limit (session_absolute)

Set at a refresh-token family's first issuance and carried to every rotation: no token of the
family lives beyond it, and its refresh token is refused after it. NULL = no limit (the
channel has none, or the family was issued before this column: it gets one at its next
rotation).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_expires_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("session_expires_at")
