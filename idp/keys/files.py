"""Private key files under ``IDP_KEYS_DIR/signing``: PEM, mode 0600, directory 0700."""

from __future__ import annotations

import os
from pathlib import Path

from joserfc.jwk import ECKey, RSAKey

from idp.errors import KeyMaterialError

PrivateKey = RSAKey | ECKey


def signing_dir(keys_dir: Path) -> Path:
    return keys_dir / "signing"


def generate(alg: str) -> PrivateKey:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise KeyMaterialError(f"unsupported signing algorithm {alg!r}: use RS256 or ES256")


def write_private(keys_dir: Path, kid: str, key: PrivateKey) -> Path:
    directory = signing_dir(keys_dir)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.as_pem(private=True))
    return path


def read_private(keys_dir: Path, kid: str, alg: str) -> PrivateKey:
    path = signing_dir(keys_dir) / f"{kid}.pem"
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"private key file for kid {kid} is missing ({path}); restore it from the key "
            "backup (docs/runbooks/key-rotation.md)"
        ) from None
    key_cls = RSAKey if alg == "RS256" else ECKey
    return key_cls.import_key(pem)


def delete_private(keys_dir: Path, kid: str) -> None:
    path = signing_dir(keys_dir) / f"{kid}.pem"
    if path.exists():
        path.unlink()
