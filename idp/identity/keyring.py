"""Key files for ID-number protection: the vault's AES-256-GCM data keys and the blind-index key.

Layout under ``keys_dir / "identity"`` (directory mode 0700, every file 0600)::

    data-<key_id>.key   one data key: 32 random bytes, base64 (RFC 4648 §4) and a newline
    blind-index.key     the HMAC-SHA256 blind-index key: 32 random bytes, base64 and a newline
    pairwise.key        the HMAC-SHA256 key of pairwise ``sub`` values (idp.accounts.subjects):
                        32 random bytes, base64 and a newline; losing it changes every pairwise sub
    current.json        {"current_data_key": "<key_id>"}

A key id is ``YYYYMMDD-`` and 8 random hex digits. Every ``data-*.key`` file is loaded, so
ciphertexts sealed with an older key still decrypt after :func:`add_data_key`. Key files are
created atomically (written to a temporary file, then hard-linked into place) and never
overwritten, so two processes starting at once cannot clobber each other's keys. The
blind-index key cannot be rotated without recomputing every stored index: back it up.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import secrets
from pathlib import Path

from idp.errors import KeyMaterialError
from idp.identity.blind_index import BlindIndex
from idp.identity.protector import IdNumberProtector
from idp.identity.vault import KEY_BYTES, KEY_ID_PATTERN, IdNumberVault, KeyLoader

IDENTITY_DIR = "identity"
BLIND_INDEX_FILE = "blind-index.key"
CURRENT_FILE = "current.json"
PAIRWISE_FILE = "pairwise.key"
DIR_MODE = 0o700
FILE_MODE = 0o600


def load_identity_keys(keys_dir: Path, *, create: bool) -> IdNumberProtector:
    """The protector built from the key files; ``create=True`` first makes any that are missing."""
    directory = keys_dir / IDENTITY_DIR
    if create:
        keys_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)
        _create_if_missing(
            directory / BLIND_INDEX_FILE, _encode_key(secrets.token_bytes(KEY_BYTES))
        )
        if not (directory / CURRENT_FILE).exists():
            key_id = _create_data_key(directory)
            if not _create_if_missing(directory / CURRENT_FILE, _current_json(key_id)):
                (directory / _data_key_name(key_id)).unlink()  # another process won the race
    missing = _missing_file(directory)
    if missing is not None:
        raise KeyMaterialError(f"identity keys missing in {directory}: {missing} — run `idp init`")
    vault = IdNumberVault(_read_data_keys(directory), _read_current(directory),
                          loader=key_loader(keys_dir))
    return IdNumberProtector(vault, BlindIndex(_read_key(directory / BLIND_INDEX_FILE)))


def reload_data_keys(keys_dir: Path, vault: IdNumberVault) -> None:
    """Load every ``data-*.key`` and ``current.json`` again into ``vault`` (re-keying)."""
    directory = keys_dir / IDENTITY_DIR
    missing = _missing_file(directory)
    if missing is not None:
        raise KeyMaterialError(f"identity keys missing in {directory}: {missing} — run `idp init`")
    vault.replace_keys(_read_data_keys(directory), _read_current(directory))


def key_loader(keys_dir: Path) -> KeyLoader:
    """What a running vault calls to read the data keys again (reload on an unknown key id)."""
    directory = keys_dir / IDENTITY_DIR

    def load() -> tuple[dict[str, bytes], str]:
        missing = _missing_file(directory)
        if missing is not None:
            raise KeyMaterialError(f"identity keys missing in {directory}: {missing}")
        return _read_data_keys(directory), _read_current(directory)

    return load


def add_data_key(keys_dir: Path) -> str:
    """Create a new data key, make it current (old keys stay for decryption); return its id."""
    directory = keys_dir / IDENTITY_DIR
    missing = _missing_file(directory)
    if missing is not None:
        raise KeyMaterialError(f"identity keys missing in {directory}: {missing} — run `idp init`")
    key_id = _create_data_key(directory)
    temporary = directory / f".{CURRENT_FILE}.{secrets.token_hex(4)}.tmp"
    _write_private(temporary, _current_json(key_id))
    os.replace(temporary, directory / CURRENT_FILE)
    return key_id


def load_pairwise_key(keys_dir: Path, *, create: bool) -> bytes:
    """The pairwise-subject key; ``create=True`` (``idp init``) first makes it if missing.
    Missing otherwise is an error, as for the other identity keys: a new key would silently
    give every citizen new pairwise ``sub`` values."""
    directory = keys_dir / IDENTITY_DIR
    path = directory / PAIRWISE_FILE
    if create:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        _create_if_missing(path, _encode_key(secrets.token_bytes(KEY_BYTES)))
    if not path.is_file():
        raise KeyMaterialError(f"identity keys missing in {directory}: {PAIRWISE_FILE} not "
                               "found — run `idp init`")
    return _read_key(path)


def identity_keys_present(keys_dir: Path) -> bool:
    """True when the blind-index key, ``current.json`` and the current data key all exist."""
    return _missing_file(keys_dir / IDENTITY_DIR) is None


def _missing_file(directory: Path) -> str | None:
    """A description of the first missing or unreadable file, or ``None`` when all are there."""
    if not (directory / BLIND_INDEX_FILE).is_file():
        return f"{BLIND_INDEX_FILE} not found"
    if not (directory / CURRENT_FILE).is_file():
        return f"{CURRENT_FILE} not found"
    try:
        current = _read_current(directory)
    except KeyMaterialError as error:
        return error.message
    if not (directory / _data_key_name(current)).is_file():
        return f"{_data_key_name(current)} (the current data key) not found"
    return None


def _read_current(directory: Path) -> str:
    path = directory / CURRENT_FILE
    try:
        key_id = json.loads(path.read_text(encoding="utf-8"))["current_data_key"]
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyMaterialError(f"{path} is unreadable or malformed") from None
    if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyMaterialError(f"{path} names an invalid data key id")
    return key_id


def _read_data_keys(directory: Path) -> dict[str, bytes]:
    return {
        path.name[len("data-") : -len(".key")]: _read_key(path)
        for path in sorted(directory.glob("data-*.key"))
        if KEY_ID_PATTERN.fullmatch(path.name[len("data-") : -len(".key")])
    }


def _read_key(path: Path) -> bytes:
    """A base64 key file; the error names the file, never its content."""
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error):
        raise KeyMaterialError(f"key file {path} is unreadable or not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"key file {path} must hold {KEY_BYTES} bytes (base64)")
    return key


def _create_data_key(directory: Path) -> str:
    while True:
        today = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
        key_id = f"{today}-{secrets.token_hex(4)}"
        key = _encode_key(secrets.token_bytes(KEY_BYTES))
        if _create_if_missing(directory / _data_key_name(key_id), key):
            return key_id


def _data_key_name(key_id: str) -> str:
    return f"data-{key_id}.key"


def _encode_key(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def _current_json(key_id: str) -> bytes:
    return (json.dumps({"current_data_key": key_id}) + "\n").encode("utf-8")


def _create_if_missing(path: Path, content: bytes) -> bool:
    """Atomically create ``path`` (mode 0600) holding ``content``; False if it already exists."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _write_private(temporary, content)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)  # exact mode whatever the umask
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
