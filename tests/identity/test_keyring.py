"""Identity key files: creation, permissions, idempotence, re-keying, clear errors."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from idp.errors import KeyMaterialError
from idp.identity import add_data_key, identity_keys_present, load_identity_keys

NUMBER = "11010519491231002X"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_create_makes_private_files(tmp_path: Path) -> None:
    old_umask = os.umask(0o000)  # the modes must not depend on the umask
    try:
        load_identity_keys(tmp_path, create=True)
    finally:
        os.umask(old_umask)
    directory = tmp_path / "identity"
    assert mode(directory) == 0o700
    files = sorted(directory.iterdir())
    names = [path.name for path in files]
    assert "blind-index.key" in names
    assert "current.json" in names
    assert len([name for name in names if name.startswith("data-")]) == 1
    assert len(names) == 3, "no temporary files left behind"
    for path in files:
        assert mode(path) == 0o600, path.name
    current = json.loads((directory / "current.json").read_text())["current_data_key"]
    key = base64.b64decode((directory / f"data-{current}.key").read_bytes().strip(), validate=True)
    assert len(key) == 32
    assert identity_keys_present(tmp_path)


def test_create_is_idempotent(tmp_path: Path) -> None:
    first = load_identity_keys(tmp_path, create=True)
    before = snapshot(tmp_path / "identity")
    second = load_identity_keys(tmp_path, create=True)
    assert snapshot(tmp_path / "identity") == before
    assert second.vault.current_key_id == first.vault.current_key_id
    assert second.index(NUMBER) == first.index(NUMBER)
    assert second.reveal(first.protect(NUMBER).ciphertext) == NUMBER


def test_missing_keys_without_create(tmp_path: Path) -> None:
    assert not identity_keys_present(tmp_path)
    with pytest.raises(KeyMaterialError) as caught:
        load_identity_keys(tmp_path, create=False)
    message = caught.value.message
    assert "idp init" in message
    assert "blind-index.key" in message
    assert str(tmp_path / "identity") in message
    assert not (tmp_path / "identity").exists(), "create=False must not create anything"


def test_missing_current_data_key_is_named(tmp_path: Path) -> None:
    protector = load_identity_keys(tmp_path, create=True)
    key_file = tmp_path / "identity" / f"data-{protector.vault.current_key_id}.key"
    key_file.unlink()
    assert not identity_keys_present(tmp_path)
    with pytest.raises(KeyMaterialError, match=key_file.name):
        load_identity_keys(tmp_path, create=False)
    with pytest.raises(KeyMaterialError, match="idp init"):
        load_identity_keys(tmp_path, create=True)  # never replaces a lost key silently


def test_corrupt_key_file_is_named_not_shown(tmp_path: Path) -> None:
    load_identity_keys(tmp_path, create=True)
    (tmp_path / "identity" / "blind-index.key").write_bytes(b"c2hvcnQ=\n")
    with pytest.raises(KeyMaterialError, match="blind-index.key") as caught:
        load_identity_keys(tmp_path, create=False)
    assert "c2hvcnQ" not in caught.value.message


def test_add_data_key_keeps_old_ciphertexts_readable(tmp_path: Path) -> None:
    before = load_identity_keys(tmp_path, create=True)
    old = before.protect(NUMBER)
    new_id = add_data_key(tmp_path)
    assert new_id != old.key_id
    after = load_identity_keys(tmp_path, create=False)
    assert after.vault.current_key_id == new_id
    assert after.reveal(old.ciphertext) == NUMBER
    fresh = after.protect(NUMBER)
    assert fresh.key_id == new_id
    assert fresh.blind_index == old.blind_index
    assert mode(tmp_path / "identity" / f"data-{new_id}.key") == 0o600
    assert mode(tmp_path / "identity" / "current.json") == 0o600
    assert len(list((tmp_path / "identity").iterdir())) == 4


def test_add_data_key_needs_initialised_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="idp init"):
        add_data_key(tmp_path)


def test_identity_package_does_not_import_flask() -> None:
    code = "import sys, idp.identity; sys.exit('flask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


class Ticks:
    """A monotonic clock the test moves (the vault's reload rate limit)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_running_vault_reads_a_key_made_after_it_loaded(tmp_path: Path) -> None:
    """Another process re-keys: this one decrypts the new rows without a restart, and from
    then on seals with the new key too."""
    running = load_identity_keys(tmp_path, create=True).vault
    old_key = running.current_key_id
    new_key = add_data_key(tmp_path)  # what `idp identity rekey --new-key` does elsewhere
    other = load_identity_keys(tmp_path, create=False).vault  # the other process
    blob = other.encrypt(NUMBER)
    assert other.key_id_of(blob) == new_key and new_key not in running.key_ids
    assert running.decrypt(blob) == NUMBER  # a miss: the key files are read again
    assert running.current_key_id == new_key and old_key in running.key_ids
    assert running.key_id_of(running.encrypt(NUMBER)) == new_key


def test_reload_on_miss_is_rate_limited_and_thread_safe(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from idp.identity.keyring import key_loader
    from idp.identity.vault import IdNumberVault

    load_identity_keys(tmp_path, create=True)
    calls: list[int] = []
    loader = key_loader(tmp_path)

    def counting() -> tuple[dict[str, bytes], str]:
        calls.append(1)
        return loader()

    ticks = Ticks()
    keys, current = loader()
    vault = IdNumberVault(keys, current, loader=counting, clock=ticks)
    stranger = IdNumberVault({"lost": os.urandom(32)}, "lost").encrypt(NUMBER)
    with ThreadPoolExecutor(8) as pool:  # many requests meet the unknown key at once
        errors = list(pool.map(lambda _: _raises(vault.decrypt, stranger), range(32)))
    assert all("'lost'" in e for e in errors)
    assert len(calls) == 1, "one reload for the whole burst"
    ticks.now += 4.9
    _raises(vault.decrypt, stranger)
    assert len(calls) == 1
    ticks.now += 0.2
    _raises(vault.decrypt, stranger)
    assert len(calls) == 2, "again once the interval has passed"


def test_encryption_picks_up_a_new_current_key_within_the_refresh_interval(
        tmp_path: Path) -> None:
    from idp.identity.keyring import key_loader
    from idp.identity.vault import REFRESH_INTERVAL, IdNumberVault

    loader = key_loader(tmp_path)
    load_identity_keys(tmp_path, create=True)
    ticks = Ticks()
    vault = IdNumberVault(*loader(), loader=loader, clock=ticks)
    new_key = add_data_key(tmp_path)
    assert vault.key_id_of(vault.encrypt(NUMBER)) != new_key  # loaded just now: no disk read
    ticks.now += REFRESH_INTERVAL
    assert vault.key_id_of(vault.encrypt(NUMBER)) == new_key
    (tmp_path / "identity" / "current.json").unlink()  # a broken directory: keep the keys held
    ticks.now += REFRESH_INTERVAL
    assert vault.key_id_of(vault.encrypt(NUMBER)) == new_key


def _raises(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyMaterialError) as info:
        call(*args)
    return str(info.value)
