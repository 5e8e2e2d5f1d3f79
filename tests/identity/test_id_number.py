"""GB 11643-1999 ID numbers: the validation table, masking, repr and derived attributes."""

from __future__ import annotations

import datetime
import logging
import re

import pytest

from idp.errors import InvalidIdNumber
from idp.identity import (
    FOREIGN_PERMANENT_RESIDENT,
    HMT_RESIDENCE_PERMIT,
    RESIDENT,
    check_character,
    is_valid_id_number,
    mask_id_number,
    parse_id_number,
)

TODAY = datetime.date(2025, 6, 1)


def ok(first17: str) -> str:
    """A number with the right check character."""
    return first17 + check_character(first17)


def bad(first17: str) -> str:
    """A number with a wrong check character."""
    right = check_character(first17)
    return first17 + ("0" if right != "0" else "1")


FULL_WIDTH = "１１０１０５１９４９１２３１００２Ｘ"

# (raw input, expected normalised 18-character value)
VALID = [
    pytest.param("11010519491231002X", "11010519491231002X", id="example-from-standard"),
    pytest.param("11010519491231002x", "11010519491231002X", id="lower-case-x"),
    pytest.param("  11010519491231002X\t\n", "11010519491231002X", id="surrounding-spaces"),
    pytest.param("\u300011010519491231002x\u3000", "11010519491231002X", id="ideographic-space"),
    pytest.param(FULL_WIDTH, "11010519491231002X", id="full-width"),
    pytest.param(FULL_WIDTH[:-1] + "ｘ", "11010519491231002X", id="full-width-lower-x"),
    pytest.param("610104620927690", "610104196209276908", id="15-digit-upgrade"),
    pytest.param(" 610104620927690 ", "610104196209276908", id="15-digit-spaces"),
    pytest.param(ok("11010519800101001"), ok("11010519800101001"), id="male"),
    pytest.param(ok("11010320000229002"), ok("11010320000229002"), id="abolished-chongwen-feb29"),
    pytest.param(ok("13210219700101001"), ok("13210219700101001"), id="abolished-prefecture"),
    pytest.param(ok("44030519960229003"), ok("44030519960229003"), id="shenzhen-leap-1996"),
    pytest.param(ok("65010219850615004"), ok("65010219850615004"), id="xinjiang"),
    pytest.param(ok("65322820240101005"), ok("65322820240101005"), id="new-2024-county"),
    pytest.param(ok("11010518900101001"), ok("11010518900101001"), id="born-1890-01-01"),
    pytest.param(ok("11010520250601001"), ok("11010520250601001"), id="born-today"),
    pytest.param(ok("81000019900101001"), ok("81000019900101001"), id="hong-kong-permit"),
    pytest.param(ok("82000019900101002"), ok("82000019900101002"), id="macao-permit"),
    pytest.param(ok("83000019900101003"), ok("83000019900101003"), id="taiwan-permit"),
    pytest.param(ok("93184019850315001"), ok("93184019850315001"), id="foreigner-2023"),
    pytest.param(ok("91115619700101002"), ok("91115619700101002"), id="foreigner-beijing"),
]

# (raw input, the rule that must fail)
INVALID = [
    pytest.param(bad("11010519491231002"), "check_digit", id="wrong-check-digit"),
    pytest.param("110105194912310021", "check_digit", id="wrong-check-digit-2"),
    pytest.param("11010519491231002A", "characters", id="letter-at-end"),
    pytest.param("1101051949123100X2", "characters", id="x-not-last"),
    pytest.param("X10105194912310020", "characters", id="leading-x"),
    pytest.param("1101051949123100XX", "characters", id="two-x"),
    pytest.param("110105 19491231002X", "characters", id="inner-space"),
    pytest.param("110105-19491231-002X", "characters", id="dashes"),
    pytest.param("11010519491231\u0660\u0660\u0662X", "characters", id="arabic-indic-digits"),
    pytest.param("61010462092769X", "characters", id="15-digit-ending-x"),
    pytest.param("", "length", id="empty"),
    pytest.param("   ", "length", id="only-spaces"),
    pytest.param("11010519491231002", "length", id="17-characters"),
    pytest.param("1101051949123100201", "length", id="19-characters"),
    pytest.param("1101051949123100", "length", id="16-characters"),
    pytest.param("11010519491231", "length", id="14-characters"),
    pytest.param(ok("00000019900101001"), "region", id="region-000000"),
    pytest.param(ok("11019919900101001"), "region", id="region-unknown-district"),
    pytest.param(ok("72000019900101001"), "region", id="region-720000"),
    pytest.param(ok("99999919900101001"), "region", id="foreigner-province-99"),
    pytest.param(ok("90184019850315001"), "region", id="foreigner-province-90"),
    pytest.param(ok("97184019850315001"), "region", id="foreigner-province-71-taiwan"),
    pytest.param(ok("98184019850315001"), "region", id="foreigner-province-81-hong-kong"),
    pytest.param(ok("00000019490230001"), "region", id="region-checked-before-date"),
    pytest.param("000000620927690", "region", id="15-digit-bad-region"),
    pytest.param(ok("11010519490230001"), "birth_date", id="feb-30"),
    pytest.param(ok("11010519990229001"), "birth_date", id="feb-29-non-leap"),
    pytest.param(ok("11010519001301001"), "birth_date", id="month-13"),
    pytest.param(ok("11010519900100001"), "birth_date", id="day-00"),
    pytest.param(ok("11010500000101001"), "birth_date", id="year-0000"),
    pytest.param(ok("11010520250602001"), "birth_date", id="future-tomorrow"),
    pytest.param(ok("11010520300101001"), "birth_date", id="future-2030"),
    pytest.param(ok("11010518800101001"), "birth_date", id="born-1880"),
    pytest.param(ok("11010518891231001"), "birth_date", id="born-1889-12-31"),
    pytest.param("610104621327690", "birth_date", id="15-digit-month-13"),
    pytest.param("610104620230690", "birth_date", id="15-digit-feb-30"),
    pytest.param(ok("93184019850230001"), "birth_date", id="foreigner-feb-30"),
    pytest.param(bad("93184019850315001"), "check_digit", id="foreigner-wrong-check"),
    pytest.param(bad("81000019900101001"), "check_digit", id="permit-wrong-check"),
    pytest.param(bad("11010519800101001"), "check_digit", id="male-wrong-check"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_numbers(raw: str, expected: str) -> None:
    parsed = parse_id_number(raw, today=TODAY)
    assert parsed.value == expected
    assert len(parsed.value) == 18
    assert check_character(parsed.value[:17]) == parsed.value[17]


@pytest.mark.parametrize(("raw", "rule"), INVALID)
def test_invalid_numbers_name_the_rule(raw: str, rule: str) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(raw, today=TODAY)
    error = caught.value
    assert error.rule == rule
    assert error.code == f"id_number.{rule}"
    assert error.message and error.message == str(error)
    # the message never carries the number, nor any long run of its digits
    assert not re.search(r"\d{5,}", error.message)
    assert not re.search(r"\d{5,}", repr(error))


def test_table_is_large_enough() -> None:
    assert len(VALID) + len(INVALID) >= 40


def test_is_valid_id_number() -> None:
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number(" 11010519491231002x ")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("")
    assert is_valid_id_number(ok("11010520250601001"), today=TODAY)
    assert not is_valid_id_number(ok("11010520250601001"), today=TODAY - datetime.timedelta(1))


def test_check_character() -> None:
    assert check_character("11010519491231002") == "X"
    assert check_character("61010419620927690") == "8"
    with pytest.raises(ValueError, match="17"):
        check_character("1234")
    with pytest.raises(ValueError, match="17"):
        check_character("1101051949123100X")


def test_kinds_and_derived_attributes() -> None:
    woman = parse_id_number("11010519491231002X", today=TODAY)
    assert (woman.kind, woman.region_code, woman.gender) == (RESIDENT, "110105", "female")
    assert woman.birth_date == datetime.date(1949, 12, 31)
    assert woman.upgraded_from_15 is False

    man = parse_id_number(ok("11010519800101001"), today=TODAY)
    assert man.gender == "male"

    legacy = parse_id_number("610104620927690", today=TODAY)
    assert legacy.upgraded_from_15 is True
    assert legacy.birth_date == datetime.date(1962, 9, 27)
    assert legacy.value == "610104196209276908"

    permit = parse_id_number(ok("83000019900101003"), today=TODAY)
    assert (permit.kind, permit.region_code, permit.gender) == (
        HMT_RESIDENCE_PERMIT,
        "830000",
        "male",
    )

    foreigner = parse_id_number(ok("93184019850315002"), today=TODAY)
    assert foreigner.kind == FOREIGN_PERMANENT_RESIDENT
    assert foreigner.region_code == "931840"
    assert foreigner.birth_date == datetime.date(1985, 3, 15)
    assert foreigner.gender == "female"


def test_default_today_rejects_future_dates() -> None:
    next_year = datetime.date.today().year + 1
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(ok(f"110105{next_year}0101001"))
    assert caught.value.rule == "birth_date"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("610104620927690", "6101*******7690"),
        ("  11010519491231002X  ", "1101**********002X"),
        ("11010519491231", "**************"),
        ("123", "***"),
        ("", ""),
        ("   ", ""),
        ("X", "*"),
        ("1101051949123100201", "1101***********0201"),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


def test_repr_and_str_show_only_the_masked_form(caplog: pytest.LogCaptureFixture) -> None:
    number = parse_id_number("11010519491231002X", today=TODAY)
    assert number.masked() == "1101**********002X"
    assert str(number) == "1101**********002X"
    assert f"{number}" == "1101**********002X"
    for shown in (repr(number), str(number), f"{number!r}", repr([number]), repr({"n": number})):
        assert "11010519491231002X" not in shown
        assert "1949" not in shown
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.identity").info("signed up %s (%r)", number, number)
    assert "11010519491231002X" not in caplog.text
    assert "1101**********002X" in caplog.text
