"""The app's token file: private from creation, replaced atomically, refused when exposed."""

from __future__ import annotations

import os
import stat

import pytest

from clients.app import statefile
from clients.common.errors import ClientError


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_file_is_private_even_with_a_permissive_umask(tmp_path):
    path = tmp_path / "sub" / "state.json"
    old = os.umask(0)
    try:
        statefile.save(path, {"access_token": "a"})
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert statefile.load(path) == {"access_token": "a", "version": 1}


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "state.json"
    statefile.save(path, {"n": 1})
    statefile.save(path, {"n": 2})
    assert statefile.load(path)["n"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "state.json"
    statefile.save(path, {"n": 1})
    path.chmod(0o644)
    with pytest.raises(ClientError) as info:
        statefile.load(path)
    assert info.value.code == "state_file_exposed" and "644" in info.value.en


@pytest.mark.parametrize("content", ["not json", "[]", '{"version": 99}'])
def test_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ClientError) as info:
        statefile.load(path)
    assert info.value.code == "state_file_invalid"


def test_missing_file_means_not_signed_in_and_delete_is_idempotent(tmp_path):
    path = tmp_path / "state.json"
    with pytest.raises(ClientError) as info:
        statefile.load(path)
    assert info.value.code == "not_signed_in"
    statefile.save(path, {})
    assert statefile.delete(path) is True and statefile.delete(path) is False
