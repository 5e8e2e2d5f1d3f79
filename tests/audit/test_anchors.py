"""Anchors: the chain's head kept outside the database, so that a clean truncation — entries cut
off the end and the head row rewritten to match — or a chain recomputed from some entry on is
still found by ``verify``; and the JSON Lines export a copy can be checked from."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from idp.audit.anchors import Anchor, AnchorLog, MalformedAnchors
from idp.audit.chain import link_hash
from idp.audit.service import _entry
from idp.store.models import AuditEvent, AuditHead
from tests.audit.test_audit import _fill, _seqs


def _truncate_cleanly(services, keep: int) -> None:
    """What an intruder with write access to the database does: cut the tail and make the head
    row agree, so the chain alone looks intact."""
    with services.sessions.begin() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
        last = s.get(AuditEvent, keep)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep, hash=last.hash))


def test_a_clean_truncation_is_found_only_with_an_anchor(services, tmp_path):
    _fill(services)
    anchors = AnchorLog(tmp_path / "anchors.jsonl")
    anchors.append(services.audit.anchor())
    seqs = _seqs(services)
    _truncate_cleanly(services, seqs[-3])
    assert services.audit.verify().ok  # the chain alone cannot tell
    result = services.audit.verify(anchors.read())
    assert not result.ok and result.broken_at == seqs[-3] + 1
    assert "truncated" in result.reason and f"entry {seqs[-1]}" in result.reason


def test_a_chain_rewritten_after_an_anchor_is_found(services, tmp_path):
    _fill(services)
    anchors = AnchorLog(tmp_path / "anchors.jsonl")
    anchors.append(services.audit.anchor())
    seqs = _seqs(services)
    # Alter an entry and recompute every hash after it, head row included: a consistent chain.
    with services.sessions.begin() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        prev = None
        for row in rows:
            if row.seq == seqs[-2]:
                row.extra = {"i": "forged"}
            if prev is not None:
                row.prev_hash = prev
            row.hash = link_hash(row.prev_hash, _entry(row))
            prev = row.hash
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    assert services.audit.verify().ok
    result = services.audit.verify(anchors.read())
    assert not result.ok and result.broken_at == seqs[-1] and "rewritten" in result.reason


def test_anchors_of_an_intact_trail_match_as_it_grows(services, tmp_path):
    anchors = AnchorLog(tmp_path / "anchors.jsonl")
    anchors.append(services.audit.anchor())
    _fill(services, 3)
    anchors.append(services.audit.anchor())
    _fill(services, 2)
    assert len(anchors.read()) == 2 and services.audit.verify(anchors.read()).ok


@pytest.mark.parametrize("line", ["not json", '{"seq": 1}', '{"seq": -1, "hash": "' + "a" * 64
                                  + '", "ts": 1}', '{"seq": 1, "hash": "short", "ts": 1}'])
def test_a_malformed_anchor_file_is_refused_by_line(tmp_path, line):
    path = tmp_path / "anchors.jsonl"
    AnchorLog(path).append(Anchor(seq=1, hash="b" * 64, ts=1))
    with path.open("a") as fh:
        fh.write(line + "\n")
    with pytest.raises(MalformedAnchors, match="line 2"):
        AnchorLog(path).read()


def test_export_is_the_chain_in_order_and_checkable_without_the_database(services):
    _fill(services, 4)
    exported = list(services.audit.export(batch=2))  # several batches
    assert [e["seq"] for e in exported] == _seqs(services)
    for before, entry in zip(exported, exported[1:], strict=False):
        assert entry["prev_hash"] == before["hash"]
    only = list(services.audit.export(tag="test:event", since=exported[1]["seq"]))
    assert only and all(e["tag"].startswith("test:event") for e in only)
    assert all(e["seq"] > exported[1]["seq"] for e in only)
    json.dumps(exported)  # plain JSON: what `idp audit export` writes line by line


def test_take_anchor_writes_the_head_and_records_who(services, tmp_path):
    log = AnchorLog(tmp_path / "anchors.jsonl")
    anchor = services.audit.take_anchor(log, actor="staff:auditor")
    assert log.read() == [anchor]
    [event] = services.audit.events(tag="audit:anchor")
    assert event.actor == "staff:auditor" and event.extra == {"seq": anchor.seq}
    assert services.audit.verify(log.read()).ok


def test_take_anchor_into_an_unwritable_place_is_a_conflict(services, tmp_path):
    from idp.errors import Conflict

    (tmp_path / "file").write_text("")
    with pytest.raises(Conflict, match="cannot write the anchor file"):
        services.audit.take_anchor(AnchorLog(tmp_path / "file" / "anchors.jsonl"), actor="x")
    assert not services.audit.events(tag="audit:anchor")
