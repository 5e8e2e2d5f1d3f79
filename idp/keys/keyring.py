"""An in-memory snapshot of the signing keys: what signs now, and the published JWKS.

Every node reads keys — metadata and sealed private parts alike — from the database, so all
nodes sign with the same active key and serve the same JWKS (DESIGN.md §5). The JWKS bytes and
their ETag are serialised once per snapshot (DESIGN.md §5: static between key changes).
``next_change`` is when the snapshot stops being right by itself (a next key's activation, a
retired key's removal); ``fingerprint`` names every key and its state, so a node can tell
cheaply whether another node changed something.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from idp.keys.material import PrivateKey


@dataclass(frozen=True)
class SigningKeyHandle:
    kid: str
    alg: str
    key: PrivateKey

    def __repr__(self) -> str:  # never the private key
        return f"SigningKeyHandle(kid={self.kid!r}, alg={self.alg!r})"


Fingerprint = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KeyRing:
    active: dict[str, SigningKeyHandle]  # alg -> the key that signs now
    published: tuple[dict[str, Any], ...]  # public JWKs served at jwks_uri
    loaded_at: float
    next_change: float = math.inf  # epoch seconds of the next due transition
    fingerprint: Fingerprint = ()  # (kid, state) of every key, sorted

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self.published)}

    @cached_property
    def jwks_bytes(self) -> bytes:
        return json.dumps(self.jwks, separators=(",", ":"), sort_keys=True).encode()

    @cached_property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.jwks_bytes).hexdigest()[:32] + '"'

    @property
    def kids(self) -> frozenset[str]:
        """The kids published now."""
        return frozenset(str(jwk.get("kid")) for jwk in self.published)

    def signer(self, alg: str) -> SigningKeyHandle | None:
        return self.active.get(alg)

    def public_key(self, kid: str) -> dict[str, Any] | None:
        for jwk in self.published:
            if jwk.get("kid") == kid:
                return jwk
        return None
