"""Registration: real-name check, one account per ID number, nothing written on bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.accounts.services import Registration
from idp.errors import Conflict, InvalidIdNumber, RegistryMismatch, ValidationError
from idp.store.models import Account, AuditEvent
from tests.factories import PASSWORD, id_number, make_citizen, phone


def _count(services, model=Account) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def _registered(services, number: str, name: str = "张三") -> None:
    services.table_registry.import_csv(f"id_number,name\n{number},{name}\n")


def test_register_stores_only_ciphertext_blind_index_and_mask(services):
    number = id_number(birth="19900215", male=False)
    _registered(services, number)
    account = services.accounts.register(Registration(number, "张三", phone(), PASSWORD))
    assert account.id_number_masked == number[:4] + "*" * 10 + number[-4:]
    assert account.gender == "female" and account.birthdate.isoformat() == "1990-02-15"
    with services.sessions() as s:
        row = s.get(Account, account.id)
        stored = [str(v) for v in vars(row).values()]
    assert not any(number in value for value in stored)
    assert number.encode() not in row.id_number_enc
    assert services.protector.reveal(row.id_number_enc) == number
    assert account.id != number and len(account.id) == 36


def test_duplicate_id_number_is_refused_in_any_spelling(services):
    number = id_number()
    _registered(services, number)
    services.accounts.register(Registration(number, "张三", phone(), PASSWORD))
    again = number.lower() if number.endswith("X") else f"  {number} "
    with pytest.raises(Conflict) as exc:
        services.accounts.register(Registration(again, "张三", phone(), PASSWORD))
    assert exc.value.code == "account.duplicate_id_number"
    assert "already exists" in exc.value.message
    assert _count(services) == 1


def test_legacy_15_digit_number_is_the_same_citizen(services):
    _registered(services, "610104196209276908", "李四")
    services.accounts.register(Registration("610104620927690", "李四", phone(), PASSWORD))
    with pytest.raises(Conflict):
        services.accounts.register(Registration("610104196209276908", "李四", phone(), PASSWORD))
    assert _count(services) == 1


def test_name_not_matching_registry_is_refused_and_nothing_written(services):
    number = id_number()
    _registered(services, number, "王五")
    with pytest.raises(RegistryMismatch):
        services.accounts.register(Registration(number, "王六", phone(), PASSWORD))
    with pytest.raises(RegistryMismatch):  # not in the registry at all
        services.accounts.register(Registration(id_number(), "王五", phone(), PASSWORD))
    assert _count(services) == 0
    with services.sessions() as s:
        tags = list(s.scalars(select(AuditEvent.tag)))
    assert tags.count("account:register:registry_mismatch") == 2


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("11010519491231002Y", "characters"),
        ("1101051949123100", "length"),
        ("110105194902300021", "birth_date"),
        ("000000194912310021", "region"),
        ("110105194912310021", "check_digit"),
    ],
)
def test_bad_id_numbers_name_the_rule_and_write_nothing(services, number, rule):
    with pytest.raises(InvalidIdNumber) as exc:
        services.accounts.register(Registration(number, "张三", phone(), PASSWORD))
    assert exc.value.rule == rule
    assert number not in exc.value.message
    assert _count(services) == 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phone", "12345", "phone.invalid"),
        ("password", "short", "password.too_short"),
        ("password", "12345678", "password.common"),
        ("name", "   ", "name.invalid"),
    ],
)
def test_bad_fields_are_refused(services, field, value, code):
    number = id_number()
    _registered(services, number)
    data = {"id_number": number, "name": "张三", "phone": phone(), "password": PASSWORD}
    data[field] = value
    with pytest.raises(ValidationError) as exc:
        services.accounts.register(Registration(**data))
    assert exc.value.code == code
    assert _count(services) == 0


def test_password_may_not_contain_the_id_number(services):
    number = id_number()
    _registered(services, number)
    with pytest.raises(ValidationError) as exc:
        services.accounts.register(Registration(number, "张三", phone(), f"a{number}"))
    assert exc.value.code == "password.personal"


def test_phone_bound_to_another_account_is_refused(services):
    citizen = make_citizen(services)
    number = id_number()
    _registered(services, number)
    with pytest.raises(Conflict) as exc:
        services.accounts.register(Registration(number, "张三", citizen.phone, PASSWORD))
    assert exc.value.code == "account.duplicate_phone"
    assert _count(services) == 1
