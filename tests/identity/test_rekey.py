"""Re-keying stored ID numbers and TOTP secrets (issue 5 §7): every row moves, sign-in never
breaks, resumable."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.mfa import totp_associated_data
from idp.container import Services
from idp.errors import KeyMaterialError
from idp.identity.rekey import IdentityRekey
from idp.store.models import Account, MfaFactor
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


# --- TOTP secrets (mfa_factors), sealed by the same vault --------------------------------------

def enrol(services: Services, citizen: Citizen, *, confirm: bool = True) -> str:
    """A TOTP factor for ``citizen`` (confirmed with the current code); returns the secret."""
    secret = services.mfa.enrol(citizen.sub, label="1101**********002X").secret
    if confirm:
        services.mfa.confirm(citizen.sub, pyotp.TOTP(secret).now())
    return secret


def factor_keys(services: Services) -> dict[str, str]:
    vault = services.protector.vault
    with services.sessions() as session:
        return {f.account_id: vault.key_id_of(f.secret_enc)
                for f in session.scalars(select(MfaFactor))}


def verifies(services: Services, citizen: Citizen, secret: str, offset: int) -> None:
    """A code of a later step than any used so far (the replay guard refuses older ones)."""
    services.mfa.verify(citizen.sub, pyotp.TOTP(secret).at(time.time() + offset))


def test_totp_secrets_move_too_and_codes_still_verify(
        services: Services, citizens: list[Citizen]) -> None:
    secrets = {c.sub: enrol(services, c) for c in citizens[:3]}
    pending = enrol(services, citizens[3], confirm=False)  # an enrolment not yet confirmed
    service = rekeyer(services)
    old_key = services.protector.vault.current_key_id
    assert service.status().secrets_per_key == {old_key: 4}
    report = service.rekey(new_key=True, batch_size=3)
    new_key = report.target_key
    assert (report.pending_at_start, report.rewrapped, report.secrets_rewrapped) == (11, 7, 4)
    assert report.batches == 3 + 2 and report.complete and report.secrets_skipped == 0
    assert set(factor_keys(services).values()) == {new_key}
    status = service.status()
    assert status.secrets_per_key == {new_key: 4} and status.pending == 0
    for citizen in citizens[:3]:
        verifies(services, citizen, secrets[citizen.sub], 30)
    services.mfa.confirm(citizens[3].sub, pyotp.TOTP(pending).now())  # the QR still works
    success = services.audit.events(tag="identity:rekey:success")[0]
    assert success.extra["secrets_rewrapped"] == 4
    assert not [s for s in secrets.values() if s in repr(success.extra)]


def test_totp_rekey_interrupted_half_way_and_resumed(
        services: Services, citizens: list[Citizen]) -> None:
    secrets = {c.sub: enrol(services, c) for c in citizens[:3]}
    service = rekeyer(services)
    old_key = services.protector.vault.current_key_id
    done: list[int] = []

    def interrupt_in_the_first_factor_batch(rows: int) -> None:
        done.append(rows)
        if len(done) == 5:  # 7 accounts in 4 batches of 2, then the first 2 factors
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.rekey(new_key=True, batch_size=2, on_batch=interrupt_in_the_first_factor_batch)
    new_key = services.protector.vault.current_key_id
    assert service.status().secrets_per_key == {new_key: 2, old_key: 1}
    assert service.status().pending == 1
    moved, waiting = citizens[0], citizens[2]  # factors are walked in enrolment order
    assert factor_keys(services)[moved.sub] == new_key
    assert factor_keys(services)[waiting.sub] == old_key
    for citizen in (moved, waiting):  # half-way: codes verify, whichever key seals them
        verifies(services, citizen, secrets[citizen.sub], 30)
    report = service.rekey(new_key=True, batch_size=2)  # continues, no third key
    assert not report.created_key and report.target_key == new_key
    assert (report.pending_at_start, report.rewrapped, report.secrets_rewrapped) == (1, 0, 1)
    assert report.complete and set(factor_keys(services).values()) == {new_key}
    verifies(services, citizens[1], secrets[citizens[1].sub], 30)
    with services.sessions() as session:  # (the others' next code is 30 s away)
        for factor in session.scalars(select(MfaFactor)):
            assert services.protector.vault.decrypt(
                factor.secret_enc, associated_data=totp_associated_data(factor.account_id)
            ) == secrets[factor.account_id]
    failure = next(e for e in services.audit.events(tag="identity:rekey")
                   if e.tag == "identity:rekey:failure")
    assert failure.extra["secrets_rewrapped"] == 2


def test_a_factor_re_enrolled_meanwhile_is_left_alone(
        services: Services, citizens: list[Citizen], monkeypatch: pytest.MonkeyPatch) -> None:
    citizen = citizens[0]
    enrol(services, citizen, confirm=False)
    service = rekeyer(services)
    next_factors = service._next_factors
    fresh: list[str] = []

    def read_then_the_citizen_restarts_enrolment(*args):  # type: ignore[no-untyped-def]
        batch = next_factors(*args)
        if batch and not fresh:  # the new enrolment is sealed with the (new) current key
            fresh.append(enrol(services, citizen, confirm=False))
        return batch

    monkeypatch.setattr(service, "_next_factors", read_then_the_citizen_restarts_enrolment)
    report = service.rekey(new_key=True)
    assert (report.secrets_rewrapped, report.secrets_skipped, report.remaining) == (0, 1, 0)
    services.mfa.confirm(citizen.sub, pyotp.TOTP(fresh[0]).now())  # the new secret stands


def test_a_running_server_reads_secrets_rekeyed_by_another_process(
        services: Services, citizens: list[Citizen]) -> None:
    """``idp identity rekey --new-key`` in another process: this one, loaded before the new
    key existed, still verifies codes (the vault reloads the key files on the unknown id)."""
    from idp.container import build_services

    secret = enrol(services, citizens[0])
    other = build_services(services.settings)
    try:
        rekeyer(other).rekey(new_key=True)
        new_key = other.protector.vault.current_key_id
    finally:
        other.close()
    assert new_key not in services.protector.vault.key_ids
    verifies(services, citizens[0], secret, 30)
    assert services.protector.vault.current_key_id == new_key
    assert services.accounts.reveal_id_number(
        services.accounts.get(citizens[1].sub)) == citizens[1].id_number  # type: ignore[arg-type]


def test_staff_totp_secrets_move_too_and_staff_still_sign_in(
        services: Services, citizens: list[Citizen]) -> None:
    """Staff TOTP secrets are sealed by the same vault: a re-key moves them as well, so the
    old data key can be retired without locking the security staff out of the console."""
    password = "staff-Password-2026!"  # noqa: S105 — test data
    enrolment = services.staff.create("admin", "管理员", "security_admin", password,
                                      actor="test")
    service = rekeyer(services)
    old_key = services.protector.vault.current_key_id
    assert service.status().secrets_per_key == {old_key: 1}
    report = service.rekey(new_key=True)
    assert report.complete and report.secrets_rewrapped == 1
    assert service.status().secrets_per_key == {report.target_key: 1}
    assert services.staff.authenticate("admin", password, pyotp.TOTP(enrolment.secret).now())
