"""The end_session decision (idp.oidc.end_session), without Flask or a server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idp.clients.service import ClientRecord
from idp.oidc.end_session import EndSessionRequest, InvalidEndSessionRequest, resolve

ISSUER = "https://idp.example.test"
KEY = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
BACK = "https://rp.example.test/logged-out"


def client(client_id: str = "web-1", status: str = "active") -> ClientRecord:
    return ClientRecord(
        client_id=client_id, name="Portal", channel="website", client_type="confidential",
        token_endpoint_auth_method="client_secret_basic", redirect_uris=(),
        post_logout_redirect_uris=(BACK,), backchannel_logout_uri=None, grant_types=(),
        scopes=(), id_token_signed_response_alg="RS256", skip_consent=True, status=status)


def id_token(key: RSAKey = KEY, typ: str = "JWT", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "acct-1", "aud": ["web-1"], "azp": "web-1", "sid": "sid-1",
            "iat": now, "exp": now + 600, **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": typ}, body, key,
                      algorithms=["RS256"])


def run(clients: dict[str, ClientRecord] | None = None, **params: str) -> Any:
    known = {"web-1": client()} if clients is None else clients
    return resolve(EndSessionRequest.from_params(params),
                   key_set=lambda: KeySet([RSAKey.import_key(KEY.as_dict(private=False))]),
                   issuer=ISSUER, lookup_client=known.get)


def test_matching_hint_redirects_with_state_and_names_the_session() -> None:
    out = run(id_token_hint=id_token(), post_logout_redirect_uri=BACK, state="x y")
    assert out.redirect_to == BACK + "?state=x+y" and not out.redirect_refused
    assert out.names_session("acct-1", "sid-1")
    assert not out.names_session("acct-1", "sid-2") and not out.names_session("acct-2", "sid-1")


def test_expired_hint_is_a_hint() -> None:
    past = int(time.time()) - 3600
    assert run(id_token_hint=id_token(iat=past, exp=past + 60)).hint is not None


@pytest.mark.parametrize("hint", [
    id_token(key=RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})),
    id_token(iss="https://other.example.test"),
    id_token(typ="at+jwt"),
    id_token(sub=""),
    "garbage",
])
def test_hints_we_did_not_issue_are_refused(hint: str) -> None:
    with pytest.raises(InvalidEndSessionRequest):
        run(id_token_hint=hint, post_logout_redirect_uri=BACK)


def test_client_id_must_be_the_hints_audience() -> None:
    with pytest.raises(InvalidEndSessionRequest):
        run(id_token_hint=id_token(), client_id="web-2")
    assert run(id_token_hint=id_token(), client_id="web-1").client is not None


@pytest.mark.parametrize(("params", "clients"), [
    ({"post_logout_redirect_uri": BACK}, None),  # nobody identified
    ({"client_id": "web-1", "post_logout_redirect_uri": BACK + "?foo=bar"}, None),
    ({"client_id": "web-1", "post_logout_redirect_uri": BACK},
     {"web-1": client(status="disabled")}),
    ({"client_id": "unknown", "post_logout_redirect_uri": BACK}, None),
])
def test_addresses_we_cannot_vouch_for_are_refused(params: dict[str, str],
                                                   clients: dict[str, ClientRecord] | None
                                                   ) -> None:
    out = run(clients, **params)
    assert out.redirect_to is None and out.redirect_refused


def test_client_id_alone_identifies_the_portal_but_names_no_session() -> None:
    out = run(client_id="web-1", post_logout_redirect_uri=BACK)
    assert out.redirect_to == BACK and out.hint is None
    assert not out.names_session("acct-1", "sid-1")
