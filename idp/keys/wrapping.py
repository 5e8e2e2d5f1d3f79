"""The signing-key wrapping key: private signing keys live in the database, sealed with it.

Every node signs with the same key because the private key is in ``signing_keys.private_enc``
(DESIGN.md §5), sealed with AES-256-GCM (NIST SP 800-38D) under the wrapping key in
``IDP_KEYS_DIR/signing/wrap.key`` — 32 random bytes, base64 (RFC 4648 §4) and a newline, mode
0600 in a 0700 directory, created by ``idp init`` when missing and never overwritten. The file
must be identical on every node and backed up with the identity keys: the database without it
cannot sign, and the database with it can.

A sealed key is ``0x01 | wrap-key id (4 bytes) | nonce (12 bytes) | ciphertext and tag``, with
the associated data ``signing-key:<kid>``: a ciphertext moved to another row does not open. The
wrap-key id (the start of a SHA-256 over a label and the key) only lets the error say "sealed
under another wrapping key" instead of "corrupt".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.errors import KeyMaterialError

WRAP_FILE = "wrap.key"
KEY_BYTES = 32
VERSION = b"\x01"
_ID_BYTES = 4
_NONCE_BYTES = 12
_HEADER = len(VERSION) + _ID_BYTES + _NONCE_BYTES


class KeyWrapper:
    """Seals and opens private signing keys (AES-256-GCM, associated data per kid)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyMaterialError(f"the signing-key wrapping key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"idp signing wrap key id\x00" + key).digest()[:_ID_BYTES]

    def __repr__(self) -> str:
        return f"KeyWrapper(key_id={self.key_id.hex()})"

    def seal(self, kid: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return VERSION + self.key_id + nonce + self._aead.encrypt(nonce, plaintext, _aad(kid))

    def open(self, kid: str, sealed: bytes) -> bytes:
        if len(sealed) <= _HEADER or sealed[:1] != VERSION:
            raise KeyMaterialError(f"kid {kid}: the sealed private key is malformed")
        if sealed[1:1 + _ID_BYTES] != self.key_id:
            raise KeyMaterialError(
                f"kid {kid} is sealed under another signing-key wrapping key: this node's "
                f"{WRAP_FILE} differs from the one that sealed it — copy the file from a node "
                "that signs (docs/runbooks/key-rotation.md)")
        nonce = sealed[1 + _ID_BYTES:_HEADER]
        try:
            return self._aead.decrypt(nonce, sealed[_HEADER:], _aad(kid))
        except InvalidTag:
            raise KeyMaterialError(f"kid {kid}: the sealed private key does not open "
                                   "(altered, or moved from another row)") from None


def _aad(kid: str) -> bytes:
    return f"signing-key:{kid}".encode()


def wrap_key_path(keys_dir: Path) -> Path:
    return keys_dir / "signing" / WRAP_FILE


def wrap_key_exists(keys_dir: Path) -> bool:
    return wrap_key_path(keys_dir).is_file()


def read_wrap_key(keys_dir: Path) -> KeyWrapper:
    """The wrapper from ``wrap.key``; a missing or malformed file is a KeyMaterialError that
    names the file, never its content."""
    path = wrap_key_path(keys_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"signing-key wrapping key missing: {path} — run `idp init` on the first node and "
            "copy the file to every other node") from None
    except OSError as exc:
        raise KeyMaterialError(f"key file {path} is unreadable ({exc.strerror})") from None
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except binascii.Error:
        raise KeyMaterialError(f"key file {path} is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"key file {path} must hold {KEY_BYTES} bytes (base64)")
    return KeyWrapper(key)


def create_wrap_key(keys_dir: Path) -> bool:
    """Create ``wrap.key`` atomically (a temporary file hard-linked into place, so two
    processes at once end with one key); False when it already exists."""
    directory = wrap_key_path(keys_dir).parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = wrap_key_path(keys_dir)
    temporary = directory / f".{WRAP_FILE}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True
