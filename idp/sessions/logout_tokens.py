"""Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, errata set 1).

A logout token is a JWT naming the session that ended: ``iss aud iat exp jti sub sid events``,
``typ: logout+jwt`` in the header (§4.1, so no RP can mistake it for an ID token), never a
``nonce``. It is signed with the client's ID token algorithm, by the key that signs its ID tokens,
so the client verifies it with the keys it already fetches from ``jwks_uri``.

``exp`` is short (``[logout] token_ttl``, two minutes by default, §4 "preferably at most two
minutes"): the queue signs a fresh token for every delivery attempt, keeping the ``jti`` — a
retried delivery never carries an expired token, and the client's replay check still sees one
logout.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt

from idp.clock import Clock, system_clock
from idp.errors import KeyMaterialError
from idp.keys import KeyService

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 — a media type, not a secret


class LogoutTokenSigner:
    def __init__(self, keys: KeyService, *, issuer: str, ttl: int,
                 clock: Clock = system_clock) -> None:
        self._keys = keys
        self._issuer = issuer
        self._ttl = ttl
        self._clock = clock

    def sign(self, *, client_id: str, alg: str, sub: str | None, sid: str, jti: str) -> str:
        """``sub`` is the client's view of the citizen (idp.accounts.subjects); None leaves it
        out (§2.4: a logout token carries ``sub``, ``sid`` or both)."""
        signer = self._keys.ring().signer(alg)
        if signer is None:
            raise KeyMaterialError(f"no active {alg} signing key: run `idp init`")
        now = int(self._clock())
        claims: dict[str, Any] = {"iss": self._issuer, "aud": client_id, "iat": now,
                                  "exp": now + self._ttl, "jti": jti, "sid": sid,
                                  "events": {BACKCHANNEL_EVENT: {}}}
        if sub is not None:
            claims["sub"] = sub
        header = {"alg": signer.alg, "kid": signer.kid, "typ": LOGOUT_TOKEN_TYPE}
        return jwt.encode(header, claims, signer.key, algorithms=[signer.alg])
