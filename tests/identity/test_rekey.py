"""Re-keying stored ID numbers (issue 5 §7): every row moves, sign-in never breaks, resumable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.container import Services
from idp.errors import KeyMaterialError
from idp.identity.rekey import IdentityRekey
from idp.store.models import Account
from tests.factories import PASSWORD, Citizen, make_citizen


def rekeyer(services: Services) -> IdentityRekey:
    return IdentityRekey(services.sessions, services.protector,
                         keys_dir=services.settings.keys_dir, audit=services.audit)


def rows(services: Services) -> dict[str, tuple[str, bytes]]:
    with services.sessions() as session:
        return {a.id: (a.id_number_key, a.id_number_enc)
                for a in session.scalars(select(Account))}


def assert_all_intact(services: Services, citizens: list[Citizen], key: str) -> None:
    stored = rows(services)
    assert {k for k, _ in stored.values()} == {key}
    for citizen in citizens:
        key_id, blob = stored[citizen.sub]
        assert services.protector.vault.key_id_of(blob) == key_id
        assert services.protector.reveal(blob) == citizen.id_number
        account = services.accounts.authenticate(citizen.id_number, PASSWORD)
        assert account.id == citizen.sub


@pytest.fixture
def citizens(services: Services) -> list[Citizen]:
    return [make_citizen(services) for _ in range(7)]


def test_rekey_moves_every_row_to_a_new_key(services: Services, citizens: list[Citizen]) -> None:
    old_key = services.protector.vault.current_key_id
    before = rows(services)
    report = rekeyer(services).rekey(new_key=True, batch_size=3)
    new_key = services.protector.vault.current_key_id
    assert new_key != old_key and report.target_key == new_key and report.created_key
    assert (report.pending_at_start, report.rewrapped, report.batches) == (7, 7, 3)
    assert report.complete and report.skipped == 0
    assert_all_intact(services, citizens, new_key)
    assert all(rows(services)[sub][1] != blob for sub, (_, blob) in before.items())
    # the old key stays loaded and on disk: nothing sealed with it becomes unreadable
    assert old_key in services.protector.vault.key_ids
    assert (services.settings.keys_dir / "identity" / f"data-{old_key}.key").is_file()
    # a process started afterwards reads the new key as current
    from idp.identity import load_identity_keys
    assert load_identity_keys(services.settings.keys_dir, create=False).vault.current_key_id \
        == new_key


def test_interrupted_half_way_and_resumed(services: Services, citizens: list[Citizen]) -> None:
    service = rekeyer(services)
    seen: list[int] = []

    def interrupt(done: int) -> None:
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.rekey(new_key=True, batch_size=3, on_batch=interrupt)
    new_key = services.protector.vault.current_key_id
    assert seen == [3]
    assert service.status().rows_per_key == {
        new_key: 3, next(k for k in service.status().rows_per_key if k != new_key): 4}
    # half-way: every account still signs in and decrypts, whichever key seals it
    for citizen in citizens:
        assert services.accounts.authenticate(citizen.id_number, PASSWORD).id == citizen.sub
        assert services.accounts.reveal_id_number(
            services.accounts.get(citizen.sub)) == citizen.id_number  # type: ignore[arg-type]

    # running again (even asking for a new key) continues the pending rotation
    report = service.rekey(new_key=True, batch_size=3)
    assert not report.created_key and report.target_key == new_key
    assert (report.pending_at_start, report.rewrapped) == (4, 4) and report.complete
    assert_all_intact(services, citizens, new_key)
    tags = [e.tag for e in services.audit.events(tag="identity:rekey")]
    assert tags == ["identity:rekey:success", "identity:rekey:start",
                    "identity:rekey:failure", "identity:rekey:start"]


def test_max_batches_stops_early_and_the_next_run_finishes(
        services: Services, citizens: list[Citizen]) -> None:
    service = rekeyer(services)
    first = service.rekey(new_key=True, batch_size=2, max_batches=1)
    assert (first.rewrapped, first.remaining, first.complete) == (2, 5, False)
    second = service.rekey(batch_size=2)
    assert (second.rewrapped, second.remaining) == (5, 0)
    assert_all_intact(services, citizens, first.target_key)


def test_registration_during_rekey_uses_the_new_key_and_is_not_touched(
        services: Services, citizens: list[Citizen]) -> None:
    late: list[Citizen] = []

    def register_between_batches(done: int) -> None:
        if not late:
            late.append(make_citizen(services))

    report = rekeyer(services).rekey(new_key=True, batch_size=2,
                                     on_batch=register_between_batches)
    new_key = report.target_key
    assert report.rewrapped == 7 and report.complete
    with services.sessions() as session:
        account = session.get(Account, late[0].sub)
        assert account is not None and account.id_number_key == new_key
        blob = account.id_number_enc
    assert services.protector.vault.key_id_of(blob) == new_key
    assert_all_intact(services, [*citizens, *late], new_key)


def test_a_row_written_meanwhile_is_left_alone(services: Services, citizens: list[Citizen],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reading a batch and writing it, another writer moves one row: not overwritten."""
    service = rekeyer(services)
    victim = sorted(c.sub for c in citizens)[3]
    written: dict[str, bytes] = {}
    reseal = service._reseal

    def reseal_while_another_writer_moves_the_victim(old_key: str, blob: bytes) -> bytes:
        new_blob = reseal(old_key, blob)
        if not written:
            with services.sessions.begin() as session:
                account = session.get(Account, victim)
                assert account is not None
                account.id_number_enc = services.protector.vault.rewrap(account.id_number_enc)
                account.id_number_key = services.protector.vault.current_key_id
                written[victim] = account.id_number_enc
        return new_blob

    monkeypatch.setattr(service, "_reseal", reseal_while_another_writer_moves_the_victim)
    report = service.rekey(new_key=True, batch_size=10)
    assert (report.rewrapped, report.skipped, report.remaining) == (6, 1, 0)
    assert rows(services)[victim][1] == written[victim]  # the other writer's blob stands
    assert_all_intact(services, citizens, report.target_key)


def test_second_run_does_nothing(services: Services, citizens: list[Citizen]) -> None:
    service = rekeyer(services)
    first = service.rekey(new_key=True)
    stored = rows(services)
    again = service.rekey()
    assert (again.pending_at_start, again.rewrapped, again.batches) == (0, 0, 0)
    assert again.target_key == first.target_key and not again.created_key
    assert rows(services) == stored


def test_rows_under_an_unloaded_key_stop_the_run(services: Services,
                                                 citizens: list[Citizen]) -> None:
    with services.sessions.begin() as session:
        session.get(Account, citizens[0].sub).id_number_key = "lost-key"  # type: ignore[union-attr]
    with pytest.raises(KeyMaterialError, match="lost-key"):
        rekeyer(services).rekey(new_key=True)


def test_audit_has_counts_never_numbers(services: Services, citizens: list[Citizen]) -> None:
    rekeyer(services).rekey(new_key=True, batch_size=4)
    events = services.audit.events(tag="identity:rekey")
    success = next(e for e in events if e.tag == "identity:rekey:success")
    assert success.extra["rewrapped"] == 7 and success.extra["remaining"] == 0
    text = repr([(e.tag, e.extra) for e in events])
    for citizen in citizens:
        assert citizen.id_number not in text and citizen.id_number[-4:] not in text
