"""Choosing the ephemeral store from settings (DESIGN.md §4).

Redis when ``IDP_REDIS_URL`` is set, so that every node shares sessions, codes and counters;
otherwise the embedded SQLite file, which is right for a single node. Construction never
connects, so the IdP can start before Redis does; readiness checks call ``ping()``.
"""

from __future__ import annotations

import pathlib

from idp.store.ephemeral.base import EphemeralStore
from idp.store.ephemeral.redis_store import RedisStore
from idp.store.ephemeral.sqlite_store import SqliteStore


def create_ephemeral_store(
    redis_url: str, sqlite_path: pathlib.Path, prefix: str = "idp:"
) -> EphemeralStore:
    """The store for these settings.

    Raises :class:`idp.errors.ConfigError` when ``redis_url`` is set but malformed.
    ``sqlite_path``'s parent directory is created when the embedded store is chosen.
    """
    if redis_url.strip():
        return RedisStore(redis_url.strip(), prefix=prefix)
    sqlite_path = pathlib.Path(sqlite_path)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(sqlite_path)
