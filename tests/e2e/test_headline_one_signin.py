"""一次认证、多点互联 — one sign-in, four channels (DESIGN.md §2).

A citizen types a password once, on the department website. Then, with no second password:
the app signs in silently in the same browser (``prompt=none``), the mini-program's backend
exchanges the app's access token (RFC 8693), and a counter terminal's device flow (RFC 8628) is
approved from the app. All four channels' ID and access tokens are verified with python-jose
against the published JWKS alone, and all carry the same ``sid`` and ``sub``.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from jose import jwt as jose_jwt

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent, pkce_pair

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


class JoseVerifier:
    """What any channel's backend does: fetch JWKS once, verify by ``kid`` with python-jose."""

    def __init__(self, issuer: str) -> None:
        config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        self.issuer = config["issuer"]
        self.config = config
        self.keys = {k["kid"]: k for k in requests.get(config["jwks_uri"], timeout=10).json()[
            "keys"]}

    def _key(self, token: str) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(token)
        assert header["alg"] in ("RS256", "ES256")
        return self.keys[header["kid"]]

    def id_token(self, token: str, client_id: str, access_token: str | None) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(token)
        claims: dict[str, Any] = jose_jwt.decode(
            token, self._key(token), algorithms=[header["alg"]], audience=client_id,
            issuer=self.issuer, access_token=access_token)
        return claims

    def access_token(self, token: str, client_id: str) -> dict[str, Any]:
        header = jose_jwt.get_unverified_header(token)
        assert header["typ"] == "at+jwt"
        claims: dict[str, Any] = jose_jwt.decode(
            token, self._key(token), algorithms=[header["alg"]], audience=client_id,
            issuer=self.issuer)
        assert claims["client_id"] == client_id
        return claims


def _client(idp_server, channel: str, redirect_uri: str | None = None) -> RelyingParty:
    demo = idp_server.demo["clients"][channel]
    return RelyingParty(idp_server, demo["client_id"], demo.get("client_secret"),
                        redirect_uri or demo["redirect_uris"][0])


def test_one_password_four_channels_one_sid(idp_server):
    citizen = idp_server.demo["citizens"][1]
    verify = JoseVerifier(idp_server.url)
    browser = UserAgent(idp_server.url)
    seen: dict[str, dict[str, Any]] = {}

    # 1. Website: the one and only password sign-in (code flow, consent, PKCE).
    website = _client(idp_server, "website")
    req = website.auth_request("openid profile", pkce=True)
    resp = browser.authorize(req.params, username=citizen["phone"], password=citizen["password"])
    tokens = website.redeem(website.expect_code(req, resp), req)
    seen["website"] = verify.id_token(tokens["id_token"], website.client_id,
                                      tokens["access_token"])
    verify.access_token(tokens["access_token"], website.client_id)
    assert browser.sign_ins == 1

    # 2. App: silent sign-in in the same browser session (prompt=none), loopback redirect with
    #    an ephemeral port (RFC 8252 §7.3), public client with PKCE.
    app = _client(idp_server, "app", "http://127.0.0.1:53121/callback")
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": app.client_id,
              "redirect_uri": app.redirect_uri, "scope": "openid profile offline_access",
              "state": "app-state", "nonce": "app-nonce", "prompt": "none",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    resp = browser.authorize(params)
    assert resp.params.get("iss") == verify.issuer and resp.code, resp.params
    app_tokens = requests.post(verify.config["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": resp.code, "client_id": app.client_id,
        "redirect_uri": app.redirect_uri, "code_verifier": verifier}).json()
    seen["app"] = verify.id_token(app_tokens["id_token"], app.client_id,
                                  app_tokens["access_token"])
    verify.access_token(app_tokens["access_token"], app.client_id)
    assert app_tokens.get("refresh_token")

    # 3. Mini-program: its backend exchanges the app's access token (RFC 8693).
    mini = idp_server.demo["clients"]["miniprogram"]
    exchanged = requests.post(verify.config["token_endpoint"], timeout=10, data={
        "grant_type": EXCHANGE, "subject_token": app_tokens["access_token"],
        "subject_token_type": ACCESS_TOKEN_TYPE, "scope": "openid profile"},
        auth=(mini["client_id"], mini["client_secret"]))
    assert exchanged.status_code == 200, exchanged.text
    mini_tokens = exchanged.json()
    assert mini_tokens["issued_token_type"] == ACCESS_TOKEN_TYPE
    seen["miniprogram"] = verify.id_token(mini_tokens["id_token"], mini["client_id"],
                                          mini_tokens["access_token"])
    verify.access_token(mini_tokens["access_token"], mini["client_id"])

    # 4. Counter terminal: device authorization, approved from the app (no password).
    counter = idp_server.demo["clients"]["counter"]
    start = requests.post(verify.config["device_authorization_endpoint"], timeout=10,
                          data={"scope": "openid profile"},
                          auth=(counter["client_id"], counter["client_secret"]))
    assert start.status_code == 200, start.text
    flow = start.json()
    approve = requests.post(f"{idp_server.url}/api/device/approve", timeout=10,
                            json={"user_code": flow["user_code"], "decision": "allow"},
                            headers={"Authorization": f"Bearer {app_tokens['access_token']}"})
    assert approve.status_code == 200, approve.text
    deadline = time.time() + 30
    while True:
        poll = requests.post(verify.config["token_endpoint"], timeout=10, data={
            "grant_type": DEVICE, "device_code": flow["device_code"]},
            auth=(counter["client_id"], counter["client_secret"]))
        if poll.status_code == 200:
            break
        assert poll.json()["error"] in ("authorization_pending", "slow_down"), poll.text
        assert time.time() < deadline
        time.sleep(flow.get("interval", 5))
    counter_tokens = poll.json()
    seen["counter"] = verify.id_token(counter_tokens["id_token"], counter["client_id"],
                                      counter_tokens["access_token"])
    verify.access_token(counter_tokens["access_token"], counter["client_id"])

    # One citizen, one sid, four channels — and still only one password typed.
    assert browser.sign_ins == 1
    assert {claims["sub"] for claims in seen.values()} == {seen["website"]["sub"]}
    assert {claims["sid"] for claims in seen.values()} == {seen["website"]["sid"]}
    assert {claims["aud"] if isinstance(claims["aud"], str) else claims["aud"][0]
            for claims in seen.values()} == {website.client_id, app.client_id,
                                             mini["client_id"], counter["client_id"]}
