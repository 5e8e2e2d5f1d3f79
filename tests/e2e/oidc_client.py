"""A strict relying party for the conformance tests, speaking real HTTP to ``idp serve``.

It registers its client through the real CLI, builds authorization requests with fresh
``state``, ``nonce`` and PKCE, checks every authorization response (RFC 9207 ``iss``, ``state``),
redeems codes at the token endpoint and verifies ID tokens against the published JWKS the way
OIDC Core §3.1.3.7 tells a client to — with joserfc, never with the server's own code.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.e2e.useragent import AuthResponse, UserAgent, pkce_pair
from tests.fixtures.server import IdpServer

REDIRECT_URI = "https://rp.example.test/cb"
CLOCK_SKEW = 5  # seconds of tolerance between this test process and the server


def half_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash`` (OIDC Core §3.1.3.6): left half of the alg's SHA-2 digest."""
    bits = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    digest = bits(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@dataclass
class AuthRequest:
    """One authorization request's parameters and the secrets the client keeps for it."""

    params: dict[str, str]
    state: str
    nonce: str | None
    verifier: str | None


@dataclass
class Login:
    """The outcome of one complete code flow: request, code, tokens and verified ID token."""

    req: AuthRequest
    response: AuthResponse
    tokens: dict[str, Any]
    id_claims: dict[str, Any]

    @property
    def sub(self) -> str:
        return str(self.id_claims["sub"])


@dataclass
class RelyingParty:
    server: IdpServer
    client_id: str
    client_secret: str | None
    redirect_uri: str
    http: requests.Session = field(default_factory=requests.Session)
    _config: dict[str, Any] | None = None
    _jwks: KeySet | None = None

    # -- registration -----------------------------------------------------------------------
    @classmethod
    def register(cls, server: IdpServer, name: str, *extra: str, channel: str = "website",
                 redirect_uri: str = REDIRECT_URI, skip_consent: bool = True) -> RelyingParty:
        args = ["--name", name, "--channel", channel, "--redirect-uri", redirect_uri, *extra]
        if skip_consent:
            args.append("--skip-consent")
        data = server.create_client(*args)
        return cls(server, data["client_id"], data.get("client_secret"), redirect_uri)

    # -- metadata ---------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            resp = self.http.get(f"{self.server.url}/.well-known/openid-configuration",
                                 timeout=10)
            resp.raise_for_status()
            self._config = resp.json()
        return self._config

    def endpoint(self, name: str) -> str:
        return str(self.config[f"{name}_endpoint"])

    @property
    def issuer(self) -> str:
        return str(self.config["issuer"])

    def key_set(self) -> KeySet:
        if self._jwks is None:
            resp = self.http.get(self.config["jwks_uri"], timeout=10)
            resp.raise_for_status()
            self._jwks = KeySet.import_key_set(resp.json())
        return self._jwks

    # -- authorization ------------------------------------------------------------------------
    def auth_request(self, scope: str = "openid", *, nonce: bool = True, pkce: bool = False,
                     **extra: str) -> AuthRequest:
        state = secrets.token_urlsafe(16)
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": self.redirect_uri, "scope": scope, "state": state}
        nonce_value = secrets.token_urlsafe(16) if nonce else None
        if nonce_value:
            params["nonce"] = nonce_value
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        params.update(extra)
        return AuthRequest(params, state, nonce_value, verifier)

    def authorize(self, agent: UserAgent, req: AuthRequest, citizen: dict[str, Any] | None,
                  *, method: str = "GET", consent: str | None = "allow") -> AuthResponse:
        """Send the citizen's browser through the request. ``citizen=None``: it must not be
        asked to sign in (the agent fails on a sign-in form it cannot fill)."""
        who = citizen or {}
        return agent.authorize(req.params, username=who.get("username"),
                               password=who.get("password"), consent=consent, method=method)

    def login(self, agent: UserAgent, citizen: dict[str, Any] | None, scope: str = "openid",
              *, method: str = "GET", auth: str = "basic", alg: str = "RS256",
              pkce: bool = False, nonce: bool = True, **extra: str) -> Login:
        """A complete, checked code flow: authorize, redeem, verify the ID token."""
        req = self.auth_request(scope, pkce=pkce, nonce=nonce, **extra)
        resp = self.authorize(agent, req, citizen, method=method)
        code = self.expect_code(req, resp)
        tokens = self.redeem(code, req, auth=auth)
        max_age = int(extra["max_age"]) if "max_age" in extra else None
        claims = self.verify_id_token(tokens["id_token"], nonce=req.nonce, alg=alg,
                                      access_token=tokens["access_token"], max_age=max_age)
        return Login(req, resp, tokens, claims)

    def check_response(self, req: AuthRequest, resp: AuthResponse) -> AuthResponse:
        """What every client must check on any authorization response (RFC 9207, RFC 6749)."""
        assert resp.location.startswith(self.redirect_uri + "?"), resp.location
        assert resp.params.get("iss") == self.issuer, resp.params
        assert resp.params.get("state") == req.state, resp.params
        return resp

    def expect_code(self, req: AuthRequest, resp: AuthResponse) -> str:
        self.check_response(req, resp)
        assert "error" not in resp.params, resp.params
        assert resp.code, resp.params
        return resp.code

    def expect_error(self, req: AuthRequest, resp: AuthResponse, error: str) -> AuthResponse:
        self.check_response(req, resp)
        assert resp.params.get("error") == error, resp.params
        assert "code" not in resp.params, resp.params
        assert resp.params.get("error_description"), resp.params
        return resp

    # -- token endpoint -----------------------------------------------------------------------
    def token_request(self, data: dict[str, str], *, auth: str = "basic",
                      secret: str | None = None) -> requests.Response:
        """POST to the token endpoint with client_secret_basic, client_secret_post or none."""
        body = dict(data)
        basic = None
        secret = secret if secret is not None else self.client_secret
        if auth == "basic":
            basic = (self.client_id, secret or "")
        elif auth == "post":
            body.update(client_id=self.client_id, client_secret=secret or "")
        elif auth == "none":
            body["client_id"] = self.client_id
        return self.http.post(self.endpoint("token"), data=body, auth=basic, timeout=20)

    def code_grant(self, code: str, req: AuthRequest | None, **overrides: str) -> dict[str, str]:
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri}
        if req is not None and req.verifier:
            data["code_verifier"] = req.verifier
        data.update(overrides)
        return data

    def redeem(self, code: str, req: AuthRequest, *, auth: str = "basic") -> dict[str, Any]:
        resp = self.token_request(self.code_grant(code, req), auth=auth)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Content-Type"].startswith("application/json")
        tokens: dict[str, Any] = resp.json()
        assert tokens["token_type"].lower() == "bearer"
        assert isinstance(tokens["expires_in"], int) and tokens["expires_in"] > 0
        return tokens

    def refresh(self, refresh_token: str, *, auth: str = "basic") -> requests.Response:
        return self.token_request({"grant_type": "refresh_token",
                                   "refresh_token": refresh_token}, auth=auth)

    # -- ID token -----------------------------------------------------------------------------
    def verify_id_token(self, id_token: str, *, nonce: str | None,
                        access_token: str | None = None, alg: str = "RS256",
                        max_age: int | None = None) -> dict[str, Any]:
        """OIDC Core §3.1.3.7 validation, strict: returns the claims."""
        decoded = jwt.decode(id_token, self.key_set(), algorithms=[alg])
        header, claims = decoded.header, dict(decoded.claims)
        assert header["alg"] == alg, header
        assert header.get("kid"), header
        now = time.time()
        assert claims["iss"] == self.issuer
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert self.client_id in aud, claims
        assert len(aud) == 1 or claims.get("azp") == self.client_id, claims
        if "azp" in claims:
            assert claims["azp"] == self.client_id
        assert isinstance(claims["sub"], str) and 0 < len(claims["sub"]) <= 255
        assert isinstance(claims["exp"], int) and claims["exp"] > now - CLOCK_SKEW
        assert isinstance(claims["iat"], int) and abs(claims["iat"] - now) < 60
        assert claims["exp"] > claims["iat"]
        if nonce is None:
            assert "nonce" not in claims, claims
        else:
            assert claims.get("nonce") == nonce, claims
        if access_token is not None:
            assert claims.get("at_hash") == half_hash(access_token, alg), claims
        assert isinstance(claims.get("auth_time"), int), claims
        assert claims["auth_time"] <= now + CLOCK_SKEW
        if max_age is not None:
            assert now - claims["auth_time"] <= max_age + CLOCK_SKEW, claims
        assert isinstance(claims.get("sid"), str) and claims["sid"], claims
        assert claims.get("acr") in self.config["acr_values_supported"], claims
        assert isinstance(claims.get("amr"), list) and claims["amr"], claims
        return claims

    # -- logout token -------------------------------------------------------------------------
    def verify_logout_token(self, logout_token: str, *, alg: str = "RS256") -> dict[str, Any]:
        """Back-Channel Logout 1.0 §2.6 validation, strict (what the conformance suite checks
        of a received logout token): returns the claims."""
        decoded = jwt.decode(logout_token, self.key_set(), algorithms=[alg])
        header, claims = decoded.header, dict(decoded.claims)
        assert header["alg"] == alg and header.get("kid"), header
        assert header.get("typ") == "logout+jwt", header
        now = time.time()
        assert claims["iss"] == self.issuer
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert aud == [self.client_id], claims
        assert isinstance(claims["iat"], int) and abs(claims["iat"] - now) < 60, claims
        assert isinstance(claims.get("exp"), int) and claims["exp"] > now - CLOCK_SKEW, claims
        assert claims["exp"] - claims["iat"] <= 300, claims  # short-lived (§4)
        assert isinstance(claims.get("jti"), str) and claims["jti"], claims
        assert claims.get("events") == {
            "http://schemas.openid.net/event/backchannel-logout": {}}, claims
        assert "nonce" not in claims, claims
        assert isinstance(claims.get("sid"), str) and isinstance(claims.get("sub"), str), claims
        return claims

    # -- userinfo -----------------------------------------------------------------------------
    def userinfo(self, access_token: str, *, how: str = "get") -> requests.Response:
        url = self.endpoint("userinfo")
        bearer = {"Authorization": f"Bearer {access_token}"}
        if how == "get":
            return self.http.get(url, headers=bearer, timeout=20)
        if how == "post-header":
            return self.http.post(url, headers=bearer, timeout=20)
        return self.http.post(url, data={"access_token": access_token}, timeout=20)

    def claims(self, access_token: str, sub: str, *, how: str = "get") -> dict[str, Any]:
        resp = self.userinfo(access_token, how=how)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        info: dict[str, Any] = resp.json()
        assert info["sub"] == sub  # OIDC Core §5.3.2: must match the ID token
        return info
