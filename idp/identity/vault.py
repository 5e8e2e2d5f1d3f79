"""Encryption of ID numbers at rest: AES-256-GCM (NIST SP 800-38D) with versioned data keys.

Blob layout, format version 1::

    0x01 | len(key_id) (1 byte) | key_id (ASCII) | nonce (12 random bytes) | ciphertext + tag

(the GCM tag is 16 bytes).

The header (version, key id) is authenticated too: it is prepended to the caller's associated
data, so a blob cannot be relabelled with another key id or version. Several data keys can be
loaded at once: new blobs use ``current_key_id``, old blobs decrypt with the key they name, and
:meth:`IdNumberVault.rewrap` moves a blob to the current key (re-keying).

A vault built with a ``loader`` (:func:`idp.identity.keyring.load_identity_keys` gives one that
reads the key files) follows a re-key made by another process without a restart: a blob naming
a key it does not hold makes it load the key set again, and an encryption does so when the
last load is older than ``refresh_interval`` — each at most once per ``reload_interval``
(thread-safe), so a blob under a truly lost key cannot make every request read the disk.
After a load, new blobs use the key ``current.json`` names.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.errors import KeyMaterialError

FORMAT_VERSION = 1
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # also used in key file names
DEFAULT_ASSOCIATED_DATA = b"id_number"
RELOAD_INTERVAL = 5.0  # seconds: at most one reload of the key files per interval
REFRESH_INTERVAL = 30.0  # seconds: an encryption checks for a newer current key this often

# Returns (every data key by id, the current key id); raises KeyMaterialError when unreadable.
KeyLoader = Callable[[], tuple[dict[str, bytes], str]]


def check_key_id(key_id: str) -> None:
    """Key ids are short ASCII names (letters, digits, ``-``, ``_``): safe in file names."""
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyMaterialError(f"invalid data key id {key_id!r}: use 1-64 of A-Z a-z 0-9 - _")


class IdNumberVault:
    """Encrypts and decrypts ID numbers with AES-256-GCM; never shows its keys in ``repr``."""

    def __init__(self, keys: dict[str, bytes], current_key_id: str, *,
                 loader: KeyLoader | None = None, reload_interval: float = RELOAD_INTERVAL,
                 refresh_interval: float = REFRESH_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ciphers: dict[str, AESGCM] = {}
        self.current_key_id = ""
        self.replace_keys(keys, current_key_id)
        self._loader = loader
        self._reload_interval = reload_interval
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._reload_lock = threading.Lock()
        self._last_reload = -math.inf  # the first miss reloads at once
        self._loaded_at = clock()

    def reload_if_due(self) -> bool:
        """Load the key set again from the ``loader``, unless one was loaded (or tried) less
        than ``reload_interval`` ago. True when new keys are in place. A failed load keeps
        the keys held (a half-copied key directory must not stop encryption)."""
        if self._loader is None:
            return False
        with self._reload_lock:
            now = self._clock()
            if now - self._last_reload < self._reload_interval:
                return False
            self._last_reload = now
            try:
                keys, current_key_id = self._loader()
                self.replace_keys(keys, current_key_id)
            except KeyMaterialError:
                return False
            self._loaded_at = now
        return True

    def replace_keys(self, keys: dict[str, bytes], current_key_id: str) -> None:
        """Load another key set in place (re-keying adds a key to a running process).

        The new ciphers are in place before the current key id changes, so a concurrent
        :meth:`encrypt` always finds the key it names.
        """
        for key_id, key in keys.items():
            check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyMaterialError(f"data key {key_id!r} must be {KEY_BYTES} bytes")
        if current_key_id not in keys:
            raise KeyMaterialError(f"current data key {current_key_id!r} is not loaded")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_key_id = current_key_id

    def __repr__(self) -> str:
        return f"IdNumberVault(key_ids={sorted(self._ciphers)!r}, current={self.current_key_id!r})"

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def encrypt(self, id_number: str, *, associated_data: bytes = DEFAULT_ASSOCIATED_DATA) -> bytes:
        """Encrypt with the current key (checked on disk every ``refresh_interval``) and a
        fresh random nonce."""
        if self._loader is not None and \
                self._clock() - self._loaded_at >= self._refresh_interval:
            self.reload_if_due()
        key_id = self.current_key_id
        header = _header(key_id)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, id_number.encode("utf-8"), header + associated_data
        )
        return header + nonce + sealed

    def decrypt(self, blob: bytes, *, associated_data: bytes = DEFAULT_ASSOCIATED_DATA) -> str:
        """Decrypt a blob; :class:`KeyMaterialError` if its key is unknown or it was altered."""
        key_id, body_start = _parse_header(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:  # sealed under a key made after this process loaded its keys?
            self.reload_if_due()
            cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyMaterialError(
                f"ID number was encrypted with data key {key_id!r}, which is not loaded — "
                "restore that key file"
            )
        body = blob[body_start:]
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise KeyMaterialError("encrypted ID number is truncated")
        nonce, sealed = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, blob[:body_start] + associated_data)
        except InvalidTag:
            raise KeyMaterialError(
                f"encrypted ID number failed authentication with data key {key_id!r}: "
                "it was altered, or the key or associated data is wrong"
            ) from None
        return plain.decode("utf-8")

    def key_id_of(self, blob: bytes) -> str:
        """The id of the data key a blob was encrypted with (no decryption)."""
        return _parse_header(blob)[0]

    def rewrap(self, blob: bytes, *, associated_data: bytes = DEFAULT_ASSOCIATED_DATA) -> bytes:
        """Re-encrypt with the current key (for re-keying); unchanged if already current."""
        if self.key_id_of(blob) == self.current_key_id:
            return blob
        plain = self.decrypt(blob, associated_data=associated_data)
        return self.encrypt(plain, associated_data=associated_data)


def key_header(key_id: str) -> bytes:
    """The first bytes of every blob sealed with ``key_id`` (to select rows by key in SQL)."""
    check_key_id(key_id)
    return _header(key_id)


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes([FORMAT_VERSION, len(encoded)]) + encoded


def _parse_header(blob: bytes) -> tuple[str, int]:
    """(key id, offset of the nonce); :class:`KeyMaterialError` if the header is malformed."""
    if len(blob) < 2:
        raise KeyMaterialError("encrypted ID number is truncated")
    if blob[0] != FORMAT_VERSION:
        raise KeyMaterialError(f"encrypted ID number has unknown format version {blob[0]}")
    end = 2 + blob[1]
    try:
        key_id = blob[2:end].decode("ascii")
    except UnicodeDecodeError:
        key_id = ""
    if len(blob) < end or not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyMaterialError("encrypted ID number has a malformed key id")
    return key_id, end
