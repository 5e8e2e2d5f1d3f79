"""An in-memory snapshot of the signing keys: what signs now, and the published JWKS.

Every node reads key metadata from the database and private keys from ``IDP_KEYS_DIR``, so all
nodes sign with the same active key and serve the same JWKS (DESIGN.md §5). The snapshot is
reloaded when older than ``max_age`` seconds; JWKS bytes and their ETag are pre-serialised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from idp.keys.files import PrivateKey


@dataclass(frozen=True)
class SigningKeyHandle:
    kid: str
    alg: str
    key: PrivateKey


@dataclass(frozen=True)
class KeyRing:
    active: dict[str, SigningKeyHandle]  # alg -> the key that signs now
    published: tuple[dict[str, Any], ...]  # public JWKs served at jwks_uri
    loaded_at: float

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self.published)}

    @property
    def jwks_bytes(self) -> bytes:
        return json.dumps(self.jwks, separators=(",", ":"), sort_keys=True).encode()

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.jwks_bytes).hexdigest()[:32] + '"'

    def signer(self, alg: str) -> SigningKeyHandle | None:
        return self.active.get(alg)

    def public_key(self, kid: str) -> dict[str, Any] | None:
        for jwk in self.published:
            if jwk.get("kid") == kid:
                return jwk
        return None
