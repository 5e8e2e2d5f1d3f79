"""tokens.purge_after (performance and scale, issue 7): when neither token of an issuance can be
used any more, indexed, so `idp tokens purge` deletes expired rows in batches without scanning
the table. Existing rows get the later of their two expiries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 03:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE tokens SET purge_after = CASE "
        "WHEN refresh_expires_at IS NOT NULL AND refresh_expires_at > access_expires_at "
        "THEN refresh_expires_at ELSE access_expires_at END"
    )
    op.create_index("ix_tokens_purge_after", "tokens", ["purge_after"])


def downgrade() -> None:
    op.drop_index("ix_tokens_purge_after", table_name="tokens")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("purge_after")
