"""A scripted IdP at the network edge, for the reference clients' unit tests.

:class:`FakeIdp` is a :data:`~clients.common.http.Transport`: it answers discovery and the JWKS
itself, answers every other request from the responses scripted with :meth:`FakeIdp.on`, and
records what was sent. Tokens are signed with a real EC P-256 key (python-jose), as the IdP
signs them: ID tokens with ``typ: JWT``, access tokens with ``typ: at+jwt`` (RFC 9068), logout
tokens with ``typ: logout+jwt`` (Back-Channel Logout 1.0 §2.4).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from clients.common.backchannel import BACKCHANNEL_EVENT
from clients.common.http import HttpRequest, HttpResponse
from clients.website.tests.idtokens import SigningKey

ISSUER = "https://id.example.gov.cn"
SUB = "acc_8f14e45fceea167a"
SID = "sid-4f7a9c"
KEY = SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256", "ec-test")

Responder = HttpResponse | Callable[[HttpRequest], HttpResponse]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def oauth_error(error: str, description: str = "", status: int = 400) -> HttpResponse:
    return json_response(status, {"error": error, "error_description": description})


class FakeIdp:
    def __init__(self, issuer: str = ISSUER, key: SigningKey = KEY) -> None:
        self.issuer, self.key = issuer, key
        self.requests: list[HttpRequest] = []
        self.routes: dict[tuple[str, str], list[Responder]] = {}
        self.metadata: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks.json",
            "device_authorization_endpoint": f"{issuer}/device_authorization",
            "end_session_endpoint": f"{issuer}/end_session",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }
        self.on(
            "GET", "/.well-known/openid-configuration", lambda r: json_response(200, self.metadata)
        )
        self.on("GET", "/jwks.json", lambda r: json_response(200, {"keys": [key.public_jwk]}))

    # --- scripting -------------------------------------------------------------------------

    def on(self, method: str, path: str, *responses: Responder) -> FakeIdp:
        """Answer ``method path`` with ``responses`` in turn; the last one repeats."""
        self.routes[(method, path)] = list(responses)
        return self

    def sent(self, method: str, path: str) -> list[HttpRequest]:
        url = f"{self.issuer}{path}"
        return [r for r in self.requests if r.method == method and r.url == url]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        path = (
            request.url.removeprefix(self.issuer)
            if request.url.startswith(self.issuer)
            else request.url
        )
        queue = self.routes.get((request.method, path))
        if not queue:
            return HttpResponse(404, b"<html>not found</html>", {"content-type": "text/html"})
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(request) if callable(responder) else responder

    # --- tokens ----------------------------------------------------------------------------

    def claims(self, aud: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.issuer,
            "sub": SUB,
            "aud": aud,
            "iat": now,
            "exp": now + 600,
            "sid": SID,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def id_token(self, aud: str, access_token: str | None = None, **claims: Any) -> str:
        payload = self.claims(aud, **{"azp": aud, "auth_time": int(time.time()) - 5, **claims})
        return jwt.encode(
            payload,
            self.key.pem,
            algorithm=self.key.alg,
            headers={"kid": self.key.kid},
            access_token=access_token,
        )

    def access_token(self, aud: str, typ: str = "at+jwt", **claims: Any) -> str:
        defaults = {"client_id": aud, "scope": "openid profile", "jti": str(time.time_ns())}
        payload = self.claims(aud, **{**defaults, **claims})
        return jwt.encode(
            payload, self.key.pem, algorithm=self.key.alg, headers={"kid": self.key.kid, "typ": typ}
        )

    def logout_token(
        self, aud: str, typ: str = "logout+jwt", key: SigningKey | None = None, **claims: Any
    ) -> str:
        """A logout token as the IdP sends it; a claim given as ``None`` is left out."""
        now = int(time.time())
        defaults = {
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_hex(16),
            "events": {BACKCHANNEL_EVENT: {}},
        }
        payload = self.claims(aud, **{**defaults, **claims})
        key = key or self.key
        headers = {"kid": key.kid, "typ": typ}
        return jwt.encode(payload, key.pem, algorithm=key.alg, headers=headers)
