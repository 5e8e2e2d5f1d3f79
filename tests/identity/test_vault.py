"""AES-256-GCM vault: round trip, random nonces, tamper detection, versioned keys."""

from __future__ import annotations

import os

import pytest

from idp.errors import KeyMaterialError
from idp.identity import IdNumberVault

NUMBER = "11010519491231002X"
KEY_A = os.urandom(32)
KEY_B = os.urandom(32)


def vault(current: str = "a", **keys: bytes) -> IdNumberVault:
    return IdNumberVault(keys or {"a": KEY_A}, current)


def test_round_trip() -> None:
    v = vault()
    blob = v.encrypt(NUMBER)
    assert NUMBER.encode() not in blob
    assert v.decrypt(blob) == NUMBER
    assert v.key_id_of(blob) == "a"
    assert blob[0] == 1  # format version


def test_random_nonce() -> None:
    v = vault()
    first, second = v.encrypt(NUMBER), v.encrypt(NUMBER)
    assert first != second
    header = 2 + 1
    assert first[header : header + 12] != second[header : header + 12]
    assert v.decrypt(first) == v.decrypt(second) == NUMBER


@pytest.mark.parametrize("position", [-1, -17, -20, 3])
def test_tampered_ciphertext_is_rejected(position: int) -> None:
    v = vault()
    blob = bytearray(v.encrypt(NUMBER))
    blob[position] ^= 0x01
    with pytest.raises(KeyMaterialError):
        v.decrypt(bytes(blob))


def test_relabelled_key_id_is_rejected() -> None:
    both = IdNumberVault({"a": KEY_A, "b": KEY_A}, "a")
    blob = both.encrypt(NUMBER)
    relabelled = blob[:2] + b"b" + blob[3:]
    assert both.key_id_of(relabelled) == "b"
    with pytest.raises(KeyMaterialError, match="authentication"):
        both.decrypt(relabelled)


def test_wrong_associated_data_is_rejected() -> None:
    v = vault()
    blob = v.encrypt(NUMBER, associated_data=b"user:1")
    assert v.decrypt(blob, associated_data=b"user:1") == NUMBER
    with pytest.raises(KeyMaterialError):
        v.decrypt(blob, associated_data=b"user:2")
    with pytest.raises(KeyMaterialError):
        v.decrypt(blob)


def test_unknown_key_id() -> None:
    blob = IdNumberVault({"old": KEY_A}, "old").encrypt(NUMBER)
    with pytest.raises(KeyMaterialError, match="'old'"):
        IdNumberVault({"new": KEY_B}, "new").decrypt(blob)


def test_same_id_wrong_key() -> None:
    blob = IdNumberVault({"a": KEY_A}, "a").encrypt(NUMBER)
    with pytest.raises(KeyMaterialError):
        IdNumberVault({"a": KEY_B}, "a").decrypt(blob)


@pytest.mark.parametrize(
    "blob", [b"", b"\x01", b"\x02\x01a" + bytes(40), b"\x01\x05ab", b"\x01\x01a" + bytes(10)]
)
def test_malformed_blobs(blob: bytes) -> None:
    with pytest.raises(KeyMaterialError):
        vault().decrypt(blob)


def test_old_keys_decrypt_and_rewrap_moves_to_current() -> None:
    old = IdNumberVault({"a": KEY_A}, "a")
    blob = old.encrypt(NUMBER)
    rotated = IdNumberVault({"a": KEY_A, "b": KEY_B}, "b")
    assert rotated.decrypt(blob) == NUMBER
    assert rotated.key_id_of(rotated.encrypt(NUMBER)) == "b"
    rewrapped = rotated.rewrap(blob)
    assert rotated.key_id_of(rewrapped) == "b"
    assert rotated.decrypt(rewrapped) == NUMBER
    assert rotated.rewrap(rewrapped) == rewrapped


def test_bad_key_material() -> None:
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        IdNumberVault({"a": b"short"}, "a")
    with pytest.raises(KeyMaterialError, match="not loaded"):
        IdNumberVault({"a": KEY_A}, "b")
    with pytest.raises(KeyMaterialError, match="invalid data key id"):
        IdNumberVault({"../etc": KEY_A}, "../etc")


def test_repr_hides_keys() -> None:
    shown = repr(vault())
    assert "a" in shown
    assert KEY_A.hex() not in shown
    assert repr(KEY_A) not in shown
