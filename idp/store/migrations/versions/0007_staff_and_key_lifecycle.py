"""staff console (issue 6): staff accounts and API tokens, initial access tokens for dynamic
client registration, the signing-key lifecycle (wrapped private keys in the database, activation
and removal dates, at most one next and one active key per algorithm) and the kid that signed
each access token (an emergency key revoke revokes what it signed)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(length=16), nullable=False, server_default="active"),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "staff_api_tokens",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_table(
        "initial_access_tokens",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("activates_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("remove_after", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_signing_keys_next", "signing_keys", ["alg"], unique=True,
                    sqlite_where=sa.text("state = 'next'"),
                    postgresql_where=sa.text("state = 'next'"))
    op.create_index("uq_signing_keys_active", "signing_keys", ["alg"], unique=True,
                    sqlite_where=sa.text("state = 'active'"),
                    postgresql_where=sa.text("state = 'active'"))
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kid", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tokens_kid", ["kid"])


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_kid")
        batch_op.drop_column("kid")
    op.drop_index("uq_signing_keys_active", table_name="signing_keys")
    op.drop_index("uq_signing_keys_next", table_name="signing_keys")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("remove_after")
        batch_op.drop_column("activates_at")
        batch_op.drop_column("private_enc")
    op.drop_table("initial_access_tokens")
    op.drop_table("staff_api_tokens")
    op.drop_table("staff_accounts")
