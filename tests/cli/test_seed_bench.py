"""``idp seed-bench`` (issue 7, "Scale"): synthetic citizens shaped like registered ones —
valid ID numbers sealed with the current data key and found through the blind index, unique
phones, the bench password's argon2id hash — added only where missing, and refused in
production mode or on bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from idp.accounts.bench_citizens import BenchCitizens
from idp.cli.seed_bench import BENCH_PASSWORD
from idp.config import load_settings
from idp.container import build_services
from idp.identity import parse_id_number
from idp.store.models import Account, AuditEvent
from tests.cli.test_cli import assert_one_line_error
from tests.fixtures.cli import run_idp


@pytest.fixture
def services_of(tmp_path):
    """The services over the database and keys ``run`` used."""
    opened = []

    def _open(db_url: str, **env: str):
        svc = build_services(load_settings({
            "IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
            "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_PASSWORDS_TIME_COST": "1",
            "IDP_PASSWORDS_MEMORY_COST": "8192", **env}))
        opened.append(svc)
        return svc

    yield _open
    for svc in opened:
        svc.close()


def seed(run, citizens: int, *extra: str, stdin: str | None = None) -> dict:
    result = run("seed-bench", "--citizens", str(citizens), "--batch", "64", "--json", *extra,
                 stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def counts(svc) -> tuple[int, int]:
    """(accounts, bench:seed:success events)."""
    with svc.sessions() as session:
        return (session.scalar(select(func.count()).select_from(Account)),
                session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.tag == "bench:seed:success")))


def test_citizens_are_real_accounts_and_a_rerun_adds_only_the_missing(run, services_of):
    first = seed(run, 200)
    assert (first["inserted"], first["skipped"], first["start"]) == (200, 0, 0)
    svc = services_of(run.db_url)
    citizens = BenchCitizens("bench")
    with svc.sessions() as session:
        rows = session.scalars(select(Account)).all()
    assert len(rows) == 200 and len({row.phone for row in rows}) == 200
    numbers = set()
    for row in rows:
        number = parse_id_number(svc.protector.reveal(row.id_number_enc))  # valid, or raises
        assert svc.protector.index(number) == row.id_number_bidx
        assert row.id_number_key == svc.protector.vault.current_key_id
        assert (row.id_number_masked, row.gender, row.birthdate) == \
            (number.masked(), number.gender, number.birth_date)
        numbers.add(number.value)
    assert numbers == {citizens.id_number(i) for i in range(200)}

    # Found as the sign-in page finds citizens, by ID number and by phone; the password works.
    for index in (0, 137, 199):
        by_number = svc.accounts.find_by_username(citizens.id_number(index))
        assert by_number is not None and by_number.id == citizens.account_id(index)
        by_phone = svc.accounts.find_by_username(citizens.phone(index))
        assert by_phone is not None and by_phone.id == by_number.id
    account = svc.accounts.authenticate(citizens.id_number(42).lower(), BENCH_PASSWORD)
    assert account.id == citizens.account_id(42) and account.status == "active"

    more = seed(run, 300)
    assert (more["inserted"], more["skipped"], more["start"]) == (100, 200, 200)
    again = seed(run, 300)
    assert (again["inserted"], again["skipped"]) == (0, 300)
    assert counts(svc) == (300, 3)
    event = svc.audit.events(tag="bench:seed:success", limit=1)[0]
    assert (event.actor, event.extra["inserted"], event.extra["citizens"]) == \
        ("seed-bench", 0, 300)


def test_a_hole_or_a_taken_phone_is_skipped_not_duplicated(run, services_of):
    seed(run, 100)
    svc = services_of(run.db_url)
    citizens = BenchCitizens("bench")
    with svc.sessions.begin() as session:  # citizen 99 gone, and 100's phone taken by 50
        session.delete(session.get(Account, citizens.account_id(99)))
        session.get(Account, citizens.account_id(50)).phone = citizens.phone(100)
    result = seed(run, 120)
    assert (result["start"], result["inserted"], result["skipped"]) == (99, 20, 100)
    assert svc.accounts.get(citizens.account_id(100)) is None
    assert svc.accounts.get(citizens.account_id(99)) is not None
    assert counts(svc)[0] == 119


def test_password_from_stdin(run, services_of):
    seed(run, 3, "--password-stdin", "--seed", "other", stdin="Another-bench-2026\n")
    svc = services_of(run.db_url)
    citizens = BenchCitizens("other")
    assert svc.accounts.authenticate(citizens.phone(2), "Another-bench-2026").id == \
        citizens.account_id(2)


BAD_INPUT = [
    (("--citizens", "0"), "0 is not in the range"),
    (("--citizens", "-5"), "-5 is not in the range"),
    (("--citizens", "ten"), "'ten' is not a valid integer"),
    ((), "Missing option '--citizens'"),
    (("--citizens", "5", "--batch", "0"), "--batch"),
    (("--citizens", "5", "--seed", ""), "--seed"),
]


def test_bad_input_is_one_line_and_writes_nothing(run, services_of):
    for args, fragment in BAD_INPUT:
        assert_one_line_error(run("seed-bench", *args), fragment)
    assert counts(services_of(run.db_url)) == (0, 0)


def test_weak_password_on_stdin_is_refused(run, services_of):
    result = run("seed-bench", "--citizens", "5", "--password-stdin", stdin="short\n")
    assert_one_line_error(result, "at least")
    assert counts(services_of(run.db_url)) == (0, 0)


def test_refuses_production(tmp_path, db_url, services_of):
    env = {"IDP_DATABASE_URL": db_url, "IDP_DATA_DIR": str(tmp_path / "var"),
           "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_MODE": "production",
           "IDP_SECRET_KEY": "p" * 40, "IDP_SMS_BACKEND": "none", "IDP_FACE_BACKEND": "none"}
    assert run_idp(["init"], env=env, cwd=tmp_path).returncode == 0
    assert_one_line_error(run_idp(["seed-bench", "--citizens", "10"], env=env, cwd=tmp_path),
                          "refuses to run in production")
    assert counts(services_of(db_url)) == (0, 0)
