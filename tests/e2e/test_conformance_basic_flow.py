"""OpenID conformance, ``oidcc-basic-certification-test-plan``: the happy flows.

Each test re-implements one module of the OpenID Foundation's plan (named after it) against a
real ``idp serve``: response_type=code, client_secret_basic unless the module says otherwise, a
confidential client registered through the CLI. Every authorization response is checked for
``iss`` (RFC 9207) and ``state``; every ID token is verified against the JWKS (OIDC Core
§3.1.3.7). Prompts and re-authentication are in ``test_conformance_basic_prompts.py``, refusals
and token-endpoint errors in ``test_conformance_basic_errors.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.errors import BadSignatureError

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent

pytestmark = pytest.mark.e2e

ALL_SCOPES = "openid profile email address phone"


def _login_pages(agent: UserAgent) -> list[str]:
    return [p.text for p in agent.pages if p.status_code == 200 and 'name="password"' in p.text]


def _no_nulls(info: dict[str, Any]) -> None:
    """Absent claims are left out, never sent as null or empty (OIDC Core §5.3.2)."""
    assert all(value not in (None, "") for value in info.values()), info


def test_oidcc_server(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """A plain code flow signs the citizen in and yields a valid ID token and userinfo."""
    login = rp.login(agent, citizen)
    assert agent.sign_ins == 1
    assert set(login.response.params) == {"code", "state", "iss"}
    assert set(login.tokens) >= {"access_token", "token_type", "expires_in", "id_token"}
    assert "refresh_token" not in login.tokens  # only with offline_access
    assert login.id_claims["amr"] == ["pwd"]
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert set(info) == {"sub"}  # scope openid releases the subject only


def test_oidcc_idtoken_signature(rp: RelyingParty, register: Any, agent: UserAgent,
                                 citizen: dict[str, Any]) -> None:
    """With no algorithm registered the ID token is RS256, its kid names a published key, a
    second JOSE library agrees, and a tampered signature is refused; ES256 clients get ES256."""
    login = rp.login(agent, citizen)
    id_token, access_token = login.tokens["id_token"], login.tokens["access_token"]
    header = jwt.decode(id_token, rp.key_set(), algorithms=["RS256"]).header
    jwks = rp.http.get(rp.config["jwks_uri"], timeout=10).json()
    published = {key["kid"]: key for key in jwks["keys"]}
    assert published[header["kid"]]["alg"] == "RS256"
    assert published[header["kid"]]["use"] == "sig"

    # python-jose, independently: signature, iss, aud, exp, at_hash.
    claims = jose_jwt.decode(id_token, published[header["kid"]], algorithms=["RS256"],
                             audience=rp.client_id, issuer=rp.issuer, access_token=access_token)
    assert claims["sub"] == login.sub

    # Another subject under the same signature must not verify.
    head, _, sig = id_token.split(".")
    body = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode())
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{head}.{body.rstrip(b'=').decode()}.{sig}", rp.key_set(),
                   algorithms=["RS256"])

    es256 = register("--id-token-alg", "ES256")
    es_login = es256.login(UserAgent(rp.server.url), citizen, alg="ES256")
    es_header = jwt.decode(es_login.tokens["id_token"], es256.key_set(),
                           algorithms=["ES256"]).header
    assert published[es_header["kid"]]["alg"] == "ES256"


def test_oidcc_idtoken_unsigned(rp: RelyingParty) -> None:
    """Unsigned ID tokens (alg none) are neither advertised nor registrable."""
    assert "none" not in rp.config["id_token_signing_alg_values_supported"]
    result = rp.server.cli("clients", "create", "--name", "unsigned", "--channel", "website",
                           "--redirect-uri", rp.redirect_uri, "--id-token-alg", "none",
                           check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "none" in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_oidcc_userinfo_get(rp: RelyingParty, agent: UserAgent,
                            citizen: dict[str, Any]) -> None:
    """UserInfo answers a GET with the bearer token in the Authorization header."""
    login = rp.login(agent, citizen, "openid profile")
    resp = rp.userinfo(login.tokens["access_token"], how="get")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    info = resp.json()
    assert info["sub"] == login.sub and info["name"] == citizen["name"]


def test_oidcc_userinfo_post_header(rp: RelyingParty, agent: UserAgent,
                                    citizen: dict[str, Any]) -> None:
    """UserInfo answers a POST with the bearer token in the Authorization header."""
    login = rp.login(agent, citizen, "openid profile")
    info = rp.claims(login.tokens["access_token"], login.sub, how="post-header")
    assert info["name"] == citizen["name"]


def test_oidcc_userinfo_post_body(rp: RelyingParty, agent: UserAgent,
                                  citizen: dict[str, Any]) -> None:
    """UserInfo answers a POST with the token as the access_token form field (RFC 6750 §2.2)."""
    login = rp.login(agent, citizen, "openid profile")
    info = rp.claims(login.tokens["access_token"], login.sub, how="post-body")
    assert info["name"] == citizen["name"]


def test_userinfo_refuses_bad_bearer_tokens(rp: RelyingParty, agent: UserAgent,
                                            citizen: dict[str, Any]) -> None:
    """UserInfo challenges a missing or invalid token per RFC 6750 §3 and refuses two tokens."""
    url = rp.endpoint("userinfo")
    missing = rp.http.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in missing.headers["WWW-Authenticate"]
    garbage = rp.userinfo("not-a-token")
    assert garbage.status_code == 401 and garbage.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in garbage.headers["WWW-Authenticate"]
    token = rp.login(agent, citizen).tokens["access_token"]
    both = rp.http.post(url, headers={"Authorization": f"Bearer {token}"},
                        data={"access_token": token}, timeout=10)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """The code flow needs no nonce; the ID token then carries none."""
    login = rp.login(agent, citizen, nonce=False)
    assert "nonce" not in login.req.params
    assert "nonce" not in login.id_claims


def test_oidcc_scope_profile(rp: RelyingParty, agent: UserAgent,
                             citizen: dict[str, Any]) -> None:
    """scope=profile releases the profile claims at UserInfo, and nothing from other scopes."""
    login = rp.login(agent, citizen, "openid profile")
    assert login.tokens["scope"].split() == ["openid", "profile"]
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert info["name"] == citizen["name"]
    assert info["gender"] in ("male", "female")
    assert info["birthdate"] == (f"{citizen['id_number'][6:10]}-{citizen['id_number'][10:12]}-"
                                 f"{citizen['id_number'][12:14]}")
    assert isinstance(info["updated_at"], int)
    assert "phone_number" not in info and "email" not in info
    _no_nulls(info)


def test_oidcc_scope_email(rp: RelyingParty, agent: UserAgent,
                           citizen: dict[str, Any]) -> None:
    """scope=email is accepted; a citizen without an email simply gets no email claims."""
    login = rp.login(agent, citizen, "openid email")
    assert "email" in login.tokens["scope"].split()
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert "email" not in info and "email_verified" not in info  # demo citizens have none
    _no_nulls(info)


def test_oidcc_scope_address(rp: RelyingParty, agent: UserAgent,
                             citizen: dict[str, Any]) -> None:
    """scope=address is accepted; a citizen without an address simply gets no address claim."""
    login = rp.login(agent, citizen, "openid address")
    assert "address" in login.tokens["scope"].split()
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert "address" not in info  # demo citizens have none
    _no_nulls(info)


def test_oidcc_scope_phone(rp: RelyingParty, agent: UserAgent,
                           citizen: dict[str, Any]) -> None:
    """scope=phone releases the phone number in E.164 form and whether it was verified."""
    login = rp.login(agent, citizen, "openid phone")
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert info["phone_number"] == f"+86{citizen['phone']}"
    assert isinstance(info["phone_number_verified"], bool)
    assert "name" not in info


def test_oidcc_scope_all(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """All four claim scopes together release the union of what the citizen has."""
    login = rp.login(agent, citizen, ALL_SCOPES)
    assert set(login.tokens["scope"].split()) == set(ALL_SCOPES.split())
    info = rp.claims(login.tokens["access_token"], login.sub)
    assert info["name"] == citizen["name"]
    assert info["phone_number"] == f"+86{citizen['phone']}"
    _no_nulls(info)


def test_oidcc_alternate_happy_flow(rp: RelyingParty, agent: UserAgent,
                                    citizen: dict[str, Any]) -> None:
    """Scope values and query parameters in another order change nothing (RFC 6749 §3.3)."""
    req = rp.auth_request("phone profile openid")
    req.params = dict(reversed(list(req.params.items())))
    assert next(iter(req.params)) != "response_type"
    code = rp.expect_code(req, rp.authorize(agent, req, citizen))
    tokens = rp.redeem(code, req)
    claims = rp.verify_id_token(tokens["id_token"], nonce=req.nonce,
                                access_token=tokens["access_token"])
    info = rp.claims(tokens["access_token"], claims["sub"])
    assert info["name"] == citizen["name"] and "phone_number" in info


def test_oidcc_display_page(rp: RelyingParty, agent: UserAgent,
                            citizen: dict[str, Any]) -> None:
    """display=page shows the normal sign-in page and completes."""
    rp.login(agent, citizen, display="page")
    assert agent.sign_ins == 1 and _login_pages(agent)


def test_oidcc_display_popup(rp: RelyingParty, agent: UserAgent,
                             citizen: dict[str, Any]) -> None:
    """display=popup is accepted (the sign-in page is shown as usual) and completes."""
    rp.login(agent, citizen, display="popup")
    assert agent.sign_ins == 1 and _login_pages(agent)


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """An unknown request parameter is ignored (RFC 6749 §3.1) and not echoed back."""
    login = rp.login(agent, citizen, extra="foobar")
    assert "extra" not in login.response.params


def test_oidcc_login_hint(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """login_hint pre-fills the sign-in form and the flow completes."""
    rp.login(agent, citizen, login_hint=citizen["phone"])
    pages = _login_pages(agent)
    assert pages and f'value="{citizen["phone"]}"' in pages[0]


def test_oidcc_ui_locales(rp: RelyingParty, citizen: dict[str, Any]) -> None:
    """An unsupported ui_locales is harmless; a supported one picks the sign-in page language."""
    rp.login(UserAgent(rp.server.url), citizen, ui_locales="se")
    for requested, lang in (("se en", "en"), ("zh-CN", "zh-CN")):
        agent = UserAgent(rp.server.url)
        rp.login(agent, citizen, ui_locales=requested)
        assert f'<html lang="{lang}">' in _login_pages(agent)[0], requested


def test_oidcc_claims_locales(rp: RelyingParty, agent: UserAgent,
                              citizen: dict[str, Any]) -> None:
    """An unsupported claims_locales is not an error; claims come in the default language."""
    login = rp.login(agent, citizen, "openid profile", claims_locales="se")
    assert rp.claims(login.tokens["access_token"], login.sub)["name"] == citizen["name"]


def test_oidcc_ensure_request_with_acr_values_succeeds(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """Requesting the advertised acr_values succeeds and the ID token names one of them."""
    supported = rp.config["acr_values_supported"]
    login = rp.login(agent, citizen, acr_values=" ".join(supported))
    assert login.id_claims["acr"] in supported


def test_oidcc_ensure_post_request_succeeds(rp: RelyingParty, agent: UserAgent,
                                            citizen: dict[str, Any]) -> None:
    """The authorization request may be a form POST (OIDC Core §3.1.2.1)."""
    login = rp.login(agent, citizen, "openid profile", method="POST")
    assert agent.pages[0].request.method == "POST"
    assert rp.claims(login.tokens["access_token"], login.sub)["name"] == citizen["name"]


def test_oidcc_server_client_secret_post(rp: RelyingParty, agent: UserAgent,
                                         citizen: dict[str, Any]) -> None:
    """The happy flow with client_secret_post authentication at the token endpoint."""
    login = rp.login(agent, citizen, auth="post")
    rp.claims(login.tokens["access_token"], login.sub)


def test_oidcc_claims_essential(rp: RelyingParty, agent: UserAgent,
                                citizen: dict[str, Any]) -> None:
    """A claims request (name, essential) does not break the flow; the parameter is read
    only for verified_claims and id_number (idp.oidc.claims_request), so it cannot widen
    what the granted scopes release."""
    assert rp.config["claims_parameter_supported"] is True
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    login = rp.login(agent, citizen, claims=claims)
    assert "name" not in rp.claims(login.tokens["access_token"], login.sub)
    with_profile = rp.login(agent, citizen, "openid profile", claims=claims)
    info = rp.claims(with_profile.tokens["access_token"], with_profile.sub)
    assert info["name"] == citizen["name"]


def test_oidcc_ensure_request_with_valid_pkce_succeeds(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """A confidential client using PKCE S256 completes the flow."""
    login = rp.login(agent, citizen, pkce=True)
    assert login.req.params["code_challenge_method"] == "S256"
    rp.claims(login.tokens["access_token"], login.sub)


def test_public_client_with_pkce(rp: RelyingParty, agent: UserAgent,
                                 citizen: dict[str, Any]) -> None:
    """The demo app (public, RFC 8252 loopback redirect) signs in with PKCE and no secret."""
    app = rp.server.demo["clients"]["app"]
    public = RelyingParty(rp.server, app["client_id"], None, "http://127.0.0.1/callback")
    login = public.login(agent, citizen, auth="none", pkce=True)
    public.claims(login.tokens["access_token"], login.sub)


def test_security_headers(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any],
                          register: Any) -> None:
    """Sign-in, consent and error pages may not be framed or sniffed, and are not cached."""
    base = rp.server.url
    login_page = agent.http.get(f"{base}/login", timeout=10)
    agent.login(citizen["username"], citizen["password"])
    consent_rp = register(skip_consent=False)
    consent_page = agent.http.get(f"{base}/authorize", allow_redirects=False, timeout=10,
                                  params=consent_rp.auth_request("openid profile").params)
    assert 'name="decision"' in consent_page.text
    error_page = agent.http.get(f"{base}/authorize", params={"client_id": "nobody"}, timeout=10)
    assert error_page.status_code == 400
    for page in (login_page, consent_page, error_page):
        assert page.headers["Content-Type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-store"
