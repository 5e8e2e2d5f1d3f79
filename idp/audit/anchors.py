"""Anchors of the audit trail: the chain's head (last ``seq`` and its hash, with the time)
written *outside* the database, so that cutting entries off the end — and rewriting the head
row to match — is detectable too (the chain alone cannot see a clean truncation).

``idp audit anchor`` (run it from cron, e.g. every 5 minutes, on one node) appends one JSON line
to the anchor file (``[audit] anchor_file``, default ``<data_dir>/audit-anchors.jsonl``) and
writes the same anchor to the log (``idp.audit``), which a deployment ships off the host.
``idp audit verify`` checks the chain against every anchor in the file: an anchor beyond the
chain's end means entries were truncated; an anchor whose hash differs from the entry's means
the chain was rewritten from there on.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class MalformedAnchors(ValueError):
    """The anchor file has a line that is not an anchor."""


@dataclass(frozen=True)
class Anchor:
    seq: int  # the last entry at the time (0: the trail was empty)
    hash: str  # that entry's hash (the genesis hash for an empty trail)
    ts: int  # when the anchor was taken, Unix seconds


class AnchorLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, anchor: Anchor) -> None:
        """One line more, flushed to disk; the same anchor to the log."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(anchor), separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        log.info("audit anchor seq=%d hash=%s ts=%d", anchor.seq, anchor.hash, anchor.ts)

    def read(self) -> list[Anchor]:
        """Every anchor in the file (none when there is no file yet)."""
        if not self.path.exists():
            return []
        anchors = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                anchor = Anchor(seq=int(data["seq"]), hash=str(data["hash"]), ts=int(data["ts"]))
            except (ValueError, KeyError, TypeError):
                raise MalformedAnchors(f"line {number} of {self.path} is not an audit "
                                       f"anchor") from None
            if anchor.seq < 0 or len(anchor.hash) != 64:
                raise MalformedAnchors(f"line {number} of {self.path} is not an audit anchor")
            anchors.append(anchor)
        return anchors
