"""The hash-chained audit trail: append, verify, and find tampering."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from idp.store.models import AuditEvent


def _fill(services, n: int = 5) -> None:
    for i in range(n):
        services.audit.record("tester", "test:event:success", subject=f"s{i}", extra={"i": i})


def _seqs(services) -> list[int]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


def test_intact_chain_verifies(services):
    before = services.audit.verify().checked  # key creation is audited too
    _fill(services)
    result = services.audit.verify()
    assert result.ok and result.checked == before + 5 and result.broken_at is None


def test_altered_entry_is_named(services):
    _fill(services)
    target = _seqs(services)[2]
    with services.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == target).values(extra={"i": 99}))
    result = services.audit.verify()
    assert not result.ok and result.broken_at == target and "altered" in result.reason


def test_removed_entry_is_named(services):
    _fill(services)
    seqs = _seqs(services)
    with services.sessions.begin() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == seqs[1]))
    result = services.audit.verify()
    assert not result.ok and result.broken_at == seqs[2] and "removed" in result.reason


def test_reordered_entries_are_detected(services):
    _fill(services)
    a, b = _seqs(services)[-3:-1]
    with services.sessions.begin() as s:
        first, second = s.get(AuditEvent, a), s.get(AuditEvent, b)
        fields = ("tag", "subject", "extra")
        values = [tuple(getattr(e, f) for f in fields) for e in (first, second)]
        for event, new in zip((first, second), reversed(values), strict=True):
            for f, v in zip(fields, new, strict=True):
                setattr(event, f, v)
    result = services.audit.verify()
    assert not result.ok and result.broken_at == a


def test_truncated_tail_is_detected(services):
    _fill(services)
    seqs = _seqs(services)
    with services.sessions.begin() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == seqs[-1]))
    result = services.audit.verify()
    assert not result.ok and "truncated" in result.reason


def test_id_numbers_are_masked_before_they_reach_the_trail(services):
    services.audit.record(
        "clerk",
        "test:scrub",
        subject="11010519491231002X",
        extra={"note": "citizen 11010519491231002X at the counter"},
    )
    with services.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.tag == "test:scrub"))
    assert event.subject == "1101**********002X"
    assert "11010519491231002X" not in event.extra["note"]
