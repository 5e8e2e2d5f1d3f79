"""Legacy private key files: ``IDP_KEYS_DIR/signing/<kid>.pem`` (mode 0600, directory 0700).

Keys made before migration 0007 kept their private part only in a PEM file on each node. They
still load from it while ``signing_keys.private_enc`` is NULL; ``idp init`` seals them into the
database (:meth:`idp.keys.service.KeyService.import_legacy_keys`). New keys never get a file.
"""

from __future__ import annotations

from pathlib import Path

from idp.errors import KeyMaterialError
from idp.keys.material import PrivateKey, key_class


def signing_dir(keys_dir: Path) -> Path:
    return keys_dir / "signing"


def pem_path(keys_dir: Path, kid: str) -> Path:
    return signing_dir(keys_dir) / f"{kid}.pem"


def has_private(keys_dir: Path, kid: str) -> bool:
    return pem_path(keys_dir, kid).is_file()


def read_private(keys_dir: Path, kid: str, alg: str) -> PrivateKey:
    path = pem_path(keys_dir, kid)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"private key file for kid {kid} is missing ({path}); restore it from the key "
            "backup, or run `idp init` on a node that has it to move it into the database "
            "(docs/runbooks/key-rotation.md)"
        ) from None
    try:
        return key_class(alg).import_key(pem)
    except ValueError:
        raise KeyMaterialError(f"private key file {path} is not a {alg} PEM key") from None


def delete_private(keys_dir: Path, kid: str) -> None:
    pem_path(keys_dir, kid).unlink(missing_ok=True)
