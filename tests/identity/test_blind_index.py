"""HMAC-SHA256 blind index and the IdNumberProtector facade."""

from __future__ import annotations

import os
import re

import pytest

from idp.errors import InvalidIdNumber, KeyMaterialError
from idp.identity import (
    BlindIndex,
    IdNumberProtector,
    IdNumberVault,
    ProtectedIdNumber,
    parse_id_number,
)

KEY = os.urandom(32)
NUMBER = "11010519491231002X"


def test_deterministic_lower_hex() -> None:
    index = BlindIndex(KEY)
    first = index.compute(NUMBER)
    assert first == index.compute(NUMBER) == BlindIndex(KEY).compute(NUMBER)
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_different_key_gives_different_index() -> None:
    assert BlindIndex(KEY).compute(NUMBER) != BlindIndex(os.urandom(32)).compute(NUMBER)


def test_different_numbers_give_different_indexes() -> None:
    index = BlindIndex(KEY)
    assert index.compute(NUMBER) != index.compute("610104620927690")


@pytest.mark.parametrize(
    "spelling",
    ["11010519491231002x", " 11010519491231002X ", "１１０１０５１９４９１２３１００２Ｘ"],
)
def test_spellings_are_normalised(spelling: str) -> None:
    index = BlindIndex(KEY)
    assert index.compute(spelling) == index.compute(NUMBER)


def test_uniqueness_across_15_and_18_digit_forms() -> None:
    index = BlindIndex(KEY)
    assert index.compute("610104620927690") == index.compute("610104196209276908")
    assert index.compute(parse_id_number("610104620927690")) == index.compute("610104196209276908")


def test_invalid_number_cannot_be_indexed() -> None:
    with pytest.raises(InvalidIdNumber):
        BlindIndex(KEY).compute("110105194912310021")


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(KeyMaterialError):
        BlindIndex(b"too short")
    assert KEY.hex() not in repr(BlindIndex(KEY))


def make_protector() -> IdNumberProtector:
    return IdNumberProtector(IdNumberVault({"k1": os.urandom(32)}, "k1"), BlindIndex(KEY))


def test_protect_and_reveal() -> None:
    protector = make_protector()
    protected = protector.protect(" 11010519491231002x ")
    assert isinstance(protected, ProtectedIdNumber)
    assert protected.masked == "1101**********002X"
    assert protected.key_id == "k1"
    assert protected.blind_index == protector.index(NUMBER)
    assert protector.reveal(protected.ciphertext) == NUMBER
    assert NUMBER not in repr(protected)
    assert NUMBER.encode() not in protected.ciphertext


def test_protect_accepts_parsed_numbers_and_upgrades_legacy() -> None:
    protector = make_protector()
    legacy = protector.protect(parse_id_number("610104620927690"))
    assert protector.reveal(legacy.ciphertext) == "610104196209276908"
    assert legacy.blind_index == protector.index("610104196209276908")


def test_protect_rejects_invalid_numbers() -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        make_protector().protect("110105194912310021")
    assert caught.value.rule == "check_digit"
