"""Hash chain of the audit trail.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON encoding of the
entry (sorted keys, no spaces, timestamps as integer microseconds), so altering, removing or
reordering an entry breaks every link after it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from idp.clock import as_aware

GENESIS_HASH = "0" * 64
_ID_NUMBER_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")


def micros(ts: datetime) -> int:
    aware = as_aware(ts)
    return (
        int(aware.replace(microsecond=0).timestamp()) * 1_000_000 + aware.microsecond
    )


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(entry)).hexdigest()


def scrub(value: Any) -> Any:
    """Mask anything shaped like an 18-digit ID number before it can reach the trail."""
    if isinstance(value, str):
        return _ID_NUMBER_LIKE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
