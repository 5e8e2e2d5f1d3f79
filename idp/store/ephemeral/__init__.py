"""The ephemeral store: short-lived items with expiry, on Redis or embedded SQLite (DESIGN.md §4).

Callers depend on :class:`EphemeralStore` and get an instance from
:func:`create_ephemeral_store`.
"""

from __future__ import annotations

from idp.store.ephemeral.base import EphemeralStore, Value
from idp.store.ephemeral.factory import create_ephemeral_store
from idp.store.ephemeral.redis_store import RedisStore
from idp.store.ephemeral.sqlite_store import SqliteStore

__all__ = ["EphemeralStore", "RedisStore", "SqliteStore", "Value", "create_ephemeral_store"]
