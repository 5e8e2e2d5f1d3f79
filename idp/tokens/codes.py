"""Authorization codes (RFC 6749 §4.1.2, RFC 9700 §4.2.1): short-lived, single-use.

A code is stored in the ephemeral store under the SHA-256 of its value and taken with an atomic
consume, so two concurrent redemptions can never both succeed. A consumed code leaves a marker
for ``used_code_memory`` seconds: a replay finds the marker, and what the code issued is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.store.ephemeral import EphemeralStore


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizationCode:
    """What the authorization endpoint granted; the token endpoint redeems it.

    Implements the accessors Authlib's grants and OIDC extension call
    (``AuthorizationCodeMixin``).
    """

    client_id: str
    account_id: str
    redirect_uri: str
    scope: str
    sid: str
    auth_time: int
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    claims: dict[str, Any] | None = None
    code_digest: str = ""

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)


class CodeStore:
    def __init__(self, store: EphemeralStore, *, ttl: int, used_memory: int) -> None:
        self._store = store
        self._ttl = ttl
        self._used_memory = used_memory

    @staticmethod
    def new_value() -> str:
        return secrets.token_urlsafe(32)

    def save(self, value: str, code: AuthorizationCode) -> None:
        data = asdict(code)
        data["code_digest"] = digest(value)
        self._store.put(f"code:{data['code_digest']}", data, self._ttl)

    def issue(self, code: AuthorizationCode) -> str:
        value = self.new_value()
        self.save(value, code)
        return value

    def redeem(self, value: str) -> AuthorizationCode | None:
        """Take the code (atomically). None when unknown, expired or already used."""
        if not value or len(value) > 256:
            return None
        key = digest(value)
        data = self._store.consume(f"code:{key}")
        if data is None:
            return None
        self._store.put(f"code:used:{key}", {"client_id": data["client_id"]}, self._used_memory)
        return AuthorizationCode(**data)

    def mark_replayed(self, value: str) -> str | None:
        """Record a replay of a used code. Returns the code's digest when it was a real code
        (so the caller revokes what it issued), None when it was never issued here."""
        if not value or len(value) > 256:
            return None
        key = digest(value)
        marker = self._store.get(f"code:used:{key}")
        if marker is None:
            return None
        marker["replayed"] = True
        self._store.replace(f"code:used:{key}", marker)
        return key

    def was_replayed(self, code_digest: str) -> bool:
        marker = self._store.get(f"code:used:{code_digest}")
        return bool(marker and marker.get("replayed"))
