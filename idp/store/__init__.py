"""Storage: the durable SQL store (SQLAlchemy + Alembic) and the ephemeral store."""
