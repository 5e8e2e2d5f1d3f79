"""Time, injectable: services take a ``Clock`` so tests can move time without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def as_aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: read them back as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
