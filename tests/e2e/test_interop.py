"""Interop: an independent, certified relying-party library against the real ``idp serve``.

pyoidc (``oic``, the OpenID Foundation's certified Python RP library — neither our code nor
Authlib, which the server uses) runs discovery → code + PKCE → token → ID-token verification
(its own JOSE stack, pyjwkest) → UserInfo → refresh. Only the browser part is scripted with our
:class:`UserAgent`, as it would be a person at a browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from oic import rndstr
from oic.oauth2.message import ErrorResponse
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    IdToken,
    OpenIDSchema,
    ProviderConfigurationResponse,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e


def _pyoidc_client(server: IdpServer, client_id: str, secret: str | None, redirect_uri: str,
                   auth_method: str) -> Client:
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    pcr = client.provider_config(server.url)  # fetches the JWKS into its key jar too
    assert isinstance(pcr, ProviderConfigurationResponse)
    assert pcr["issuer"] == server.url
    # pyoidc's own metadata validation. It insists on an https issuer (Discovery §3), which a
    # loopback test server cannot have, so that one check runs on an https twin of the document.
    ProviderConfigurationResponse(
        **{**pcr.to_dict(), "issuer": "https://" + server.url.split("://", 1)[1]}).verify()
    registration: dict[str, Any] = {"client_id": client_id, "redirect_uris": [redirect_uri],
                                    "token_endpoint_auth_method": auth_method}
    if secret:
        registration["client_secret"] = secret
    client.store_registration_info(RegistrationResponse(**registration))
    client.redirect_uris = [redirect_uri]
    return client


def _authorize(client: Client, agent: UserAgent, citizen: dict[str, Any],
               scope: list[str]) -> tuple[str, str, str, AuthorizationResponse]:
    state, nonce = rndstr(32), rndstr(32)
    pkce, verifier = client.add_code_challenge()
    request = client.construct_AuthorizationRequest(request_args={
        "client_id": client.client_id, "response_type": "code", "scope": scope,
        "nonce": nonce, "redirect_uri": client.redirect_uris[0], "state": state, **pkce})
    url = request.request(client.authorization_endpoint)
    assert url.startswith(client.provider_info["authorization_endpoint"] + "?")
    resp = agent.authorize(dict(parse_qsl(urlsplit(url).query)),
                           username=citizen["username"], password=citizen["password"])
    parsed = client.parse_response(AuthorizationResponse, info=urlsplit(resp.location).query,
                                   sformat="urlencoded")
    assert isinstance(parsed, AuthorizationResponse)
    assert parsed["state"] == state and parsed["iss"] == client.provider_info["issuer"]
    return state, nonce, verifier, parsed


def test_pyoidc_confidential_client(rp: RelyingParty, agent: UserAgent,
                                    citizen: dict[str, Any]) -> None:
    """pyoidc signs a citizen in with client_secret_basic + PKCE, verifies the ID token,
    reads UserInfo and refreshes twice (with rotation)."""
    client = _pyoidc_client(rp.server, rp.client_id, rp.client_secret, rp.redirect_uri,
                            "client_secret_basic")
    state, nonce, verifier, auth = _authorize(client, agent, citizen,
                                              ["openid", "profile", "offline_access"])

    tokens = client.do_access_token_request(
        state=state, request_args={"code": auth["code"], "code_verifier": verifier},
        authn_method="client_secret_basic")
    assert isinstance(tokens, AccessTokenResponse), tokens
    id_token = tokens["id_token"]  # verified by pyoidc: signature via the JWKS, iss, aud, exp
    assert isinstance(id_token, IdToken)
    assert id_token["iss"] == rp.server.url and rp.client_id in id_token["aud"]
    assert id_token["nonce"] == nonce
    # And by us, on the same compact JWT (at_hash, auth_time, sid, acr, amr).
    ours = rp.verify_id_token(tokens["id_token_jwt"], nonce=nonce,
                              access_token=tokens["access_token"])
    assert ours["sub"] == id_token["sub"]

    for method in ("GET", "POST"):
        info = client.do_user_info_request(method=method, state=state)
        assert isinstance(info, OpenIDSchema), info
        assert info["sub"] == id_token["sub"] and info["name"] == citizen["name"]

    first_refresh = tokens["refresh_token"]
    first_token = client.get_token(state=state)
    assert first_token.refresh_token == first_refresh
    renewed = client.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert isinstance(renewed, AccessTokenResponse), renewed
    assert renewed["refresh_token"] != first_refresh
    again = client.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert isinstance(again, AccessTokenResponse), again
    info = client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema) and info["sub"] == id_token["sub"]

    # Replaying the first, rotated refresh token: invalid_grant, and the family is revoked.
    replay = client.do_access_token_refresh(state=state, token=first_token,
                                            authn_method="client_secret_basic")
    assert isinstance(replay, ErrorResponse) and replay["error"] == "invalid_grant"
    assert rp.userinfo(again["access_token"]).status_code == 401  # the family is revoked


def test_pyoidc_public_client(idp_server: IdpServer, agent: UserAgent,
                              citizen: dict[str, Any]) -> None:
    """pyoidc as the demo app (public client, RFC 8252 loopback redirect): PKCE, no secret."""
    app = idp_server.demo["clients"]["app"]
    client = _pyoidc_client(idp_server, app["client_id"], None, "http://127.0.0.1/callback",
                            "none")
    state, nonce, verifier, auth = _authorize(client, agent, citizen, ["openid", "phone"])
    tokens = client.do_access_token_request(
        state=state, authn_method="",
        request_args={"code": auth["code"], "code_verifier": verifier,
                      "client_id": app["client_id"]})
    assert isinstance(tokens, AccessTokenResponse), tokens
    assert tokens["id_token"]["nonce"] == nonce
    info = client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema)
    assert info["phone_number"] == f"+86{citizen['phone']}"
