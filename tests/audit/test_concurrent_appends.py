"""Appenders racing on several threads (SQLite and PostgreSQL) serialise on the head row: every
event gets its own sequence number, the chain never forks, and it verifies."""

from __future__ import annotations

import threading

from sqlalchemy import select

from idp.store.models import AuditEvent, AuditHead


def test_racing_appenders_make_one_unbroken_chain(services):
    threads, each = 4, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def append(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                services.audit.record(f"writer-{n}", "bench:append:success", extra={"i": i})
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    with services.sessions() as s:
        seqs = list(s.scalars(select(AuditEvent.seq).where(
            AuditEvent.tag == "bench:append:success").order_by(AuditEvent.seq)))
        head = s.get(AuditHead, 1)
    assert len(seqs) == threads * each and len(set(seqs)) == len(seqs)
    assert head is not None and head.seq == max(seqs)
    result = services.audit.verify()
    assert result.ok and result.checked >= threads * each
