"""The ephemeral store: short-lived items with expiry (DESIGN.md §4).

SSO sessions, authorization codes, device codes, QR tickets, one-time codes and rate-limit
counters live here. Two implementations share this interface: Redis (``IDP_REDIS_URL`` set) and
an embedded SQLite file (none set). Values are JSON objects. Single-use items are taken with
:meth:`EphemeralStore.consume`, which is atomic: of any number of concurrent callers for one key,
exactly one receives the value.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

Value = dict[str, Any]


@runtime_checkable
class EphemeralStore(Protocol):
    """Key/value store with per-key expiry. Keys are plain strings; TTLs are whole seconds > 0."""

    def put(self, key: str, value: Value, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any earlier value."""

    def add(self, key: str, value: Value, ttl: int) -> bool:
        """Store only if ``key`` is absent (or expired). True when this call stored it."""

    def replace(self, key: str, value: Value) -> bool:
        """Overwrite an existing, unexpired key keeping its expiry. False when it is absent."""

    def get(self, key: str) -> Value | None:
        """The value, or None when absent or expired."""

    def consume(self, key: str) -> Value | None:
        """Atomically read and delete: exactly one concurrent caller gets the value."""

    def delete(self, key: str) -> bool:
        """Remove the key; True when something was removed."""

    def ttl(self, key: str) -> int | None:
        """Seconds left for the key, or None when absent or expired."""

    def expire(self, key: str, ttl: int) -> bool:
        """Set a new expiry on an existing key; False when it is absent."""

    def incr(self, key: str, ttl: int) -> int:
        """Increment a counter and return the new value. The first increment sets the expiry
        (a fixed window); later ones keep it."""

    def count(self, key: str) -> int:
        """The current value of a counter made by :meth:`incr`; 0 when absent or expired."""

    def set_add(self, key: str, member: str, ttl: int) -> None:
        """Add a member to the set at ``key`` and (re)set the whole set's expiry to ``ttl``."""

    def set_remove(self, key: str, member: str) -> None:
        """Remove a member from the set (no error when absent)."""

    def set_members(self, key: str) -> set[str]:
        """The members of the set; empty when absent or expired."""

    def ping(self) -> bool:
        """True when the backend answers (used by readiness checks)."""

    def close(self) -> None:
        """Release connections."""
