"""ID tokens (OpenID Connect Core §2, §3.1.3.6): the signing key, the header and the claims
every ID token carries, in one place.

Used by the code flow (:class:`idp.oidc.grants.OpenIDCode`, through Authlib's hooks) and by
token exchange (:mod:`idp.oidc.token_exchange`, which has no Authlib extension to lean on). The
key follows the client's registered ``id_token_signed_response_alg``; ``exp`` its channel's
``id_token_ttl``; ``at_hash`` is the left half of the alg's hash of the access token (§3.1.3.6).
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core.grants.util import create_half_hash
from joserfc import jwt

from idp.container import Services
from idp.errors import KeyMaterialError
from idp.keys.keyring import SigningKeyHandle
from idp.oidc.models import OAuthClient


class IdTokenSigner:
    def __init__(self, services: Services) -> None:
        self._services = services

    def signer(self, client: OAuthClient) -> SigningKeyHandle:
        signer = self._services.keys.ring().signer(client.id_token_signed_response_alg)
        if signer is None:
            raise KeyMaterialError("no active signing key: run `idp init`")
        return signer

    def header(self, client: OAuthClient) -> dict[str, str]:
        return _header(self.signer(client))

    def client_claims(self, client: OAuthClient) -> dict[str, Any]:
        """``iss aud azp iat exp``: who issued it, for whom, and for how long."""
        now = int(time.time())
        ttl = self._services.policies.policy(client.record.channel).id_token_ttl
        return {"iss": self._services.settings.issuer, "aud": [client.get_client_id()],
                "azp": client.get_client_id(), "iat": now, "exp": now + ttl}

    def encode(self, client: OAuthClient, claims: dict[str, Any], *,
               access_token: str | None = None) -> str:
        """Sign an ID token: the client claims, then ``claims`` (``sub``, ``sid``,
        ``auth_time``…), then ``at_hash`` when it comes with an access token."""
        signer = self.signer(client)
        payload = {**self.client_claims(client), **claims}
        if access_token:
            at_hash = create_half_hash(access_token, signer.alg)
            if at_hash is not None:
                payload["at_hash"] = at_hash.decode("ascii")
        return jwt.encode(_header(signer), payload, signer.key, algorithms=[signer.alg])


def _header(signer: SigningKeyHandle) -> dict[str, str]:
    return {"alg": signer.alg, "kid": signer.kid, "typ": "JWT"}
