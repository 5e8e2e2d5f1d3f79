"""delegations: a citizen authorises another citizen to act for them (代办, RFC 8693 §4.1)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("citizen_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["citizen_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index("ix_delegations_agent", ["agent_id"], unique=False)
        # At most one open delegation per citizen × agent (a concurrent second grant fails).
        batch_op.create_index("ux_delegations_open_pair", ["citizen_id", "agent_id"],
                              unique=True, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index("ux_delegations_open_pair")
        batch_op.drop_index("ix_delegations_agent")
    op.drop_table("delegations")
