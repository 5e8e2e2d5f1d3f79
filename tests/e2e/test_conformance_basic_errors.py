"""OpenID conformance, ``oidcc-basic-certification-test-plan``: refusals.

Bad authorization requests (missing response_type, unregistered redirect URIs, request objects
we do not support), replayed codes, refresh-token rotation and binding, PKCE and the token
endpoint's RFC 6749 §5.2 errors. A refusal must never issue anything: each test checks that what
was refused stays unusable.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from tests.e2e.oidc_client import AuthRequest, RelyingParty
from tests.e2e.useragent import UserAgent

pytestmark = pytest.mark.e2e


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


def _error(resp: requests.Response, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error response: JSON, not cacheable, with a description."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = resp.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body
    assert not {"access_token", "id_token", "refresh_token"} & set(body)
    return body


def _error_page(resp: requests.Response) -> str:
    """An error page for the citizen: never a redirect to an unverified redirect URI."""
    assert resp.status_code == 400, resp.status_code
    assert "Location" not in resp.headers
    assert resp.headers["Content-Type"].startswith("text/html")
    return resp.text


def _code_for(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any],
              scope: str = "openid", **kw: Any) -> tuple[AuthRequest, str]:
    req = rp.auth_request(scope, **kw)
    return req, rp.expect_code(req, rp.authorize(agent, req, citizen))


# -- authorization endpoint ----------------------------------------------------------------------


def test_oidcc_response_type_missing(rp: RelyingParty, agent: UserAgent) -> None:
    """A request without response_type goes back to the client as invalid_request (or
    unsupported_response_type), with iss and state; an unsupported one is refused likewise."""
    req = rp.auth_request()
    del req.params["response_type"]
    resp = rp.check_response(req, rp.authorize(agent, req, None))
    assert resp.params["error"] in ("invalid_request", "unsupported_response_type")
    assert "response_type" in resp.params["error_description"]

    for unsupported in ("token", "id_token", "code id_token"):
        req = rp.auth_request(response_type=unsupported)
        rp.expect_error(req, rp.authorize(agent, req, None), "unsupported_response_type")

    # Without a verified redirect URI there is nobody to redirect to: an error page.
    req = rp.auth_request(redirect_uri="https://attacker.example/cb")
    del req.params["response_type"]
    _error_page(agent.visit(req.params))


@pytest.mark.parametrize("redirect_uri", [
    "https://attacker.example/cb",
    "https://rp.example.test/cb/",
    "https://rp.example.test/CB",
    "https://RP.example.test/cb",
    "https://rp.example.test/cb?extra=1",
    "http://rp.example.test/cb",
    'https://attacker.example/"><script>alert(1)</script>',
    "",
])
def test_oidcc_ensure_registered_redirect_uri(rp: RelyingParty, agent: UserAgent,
                                              citizen: dict[str, Any],
                                              redirect_uri: str) -> None:
    """A redirect URI that is not exactly a registered one (or none at all) gets an error
    page that names the problem — never a redirect, signed in or not."""
    req = rp.auth_request(redirect_uri=redirect_uri)
    if not redirect_uri:
        del req.params["redirect_uri"]
    page = _error_page(agent.visit(req.params))
    assert "redirect" in page.lower()
    assert "<script>alert" not in page
    agent.login(citizen["username"], citizen["password"])
    _error_page(agent.visit(req.params))
    post = agent.http.post(f"{rp.server.url}/authorize", data=req.params,
                           allow_redirects=False, timeout=10)
    _error_page(post)


def test_unknown_client_gets_an_error_page(rp: RelyingParty, agent: UserAgent) -> None:
    """An unknown or missing client_id is shown as an error page, not redirected."""
    req = rp.auth_request(client_id="no-such-client")
    page = _error_page(agent.visit(req.params))
    assert "client" in page.lower()
    del req.params["client_id"]
    _error_page(agent.visit(req.params))


def test_oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """request_uri is not supported (as advertised): request_uri_not_supported, iss, state."""
    assert rp.config["request_uri_parameter_supported"] is False
    agent.login(citizen["username"], citizen["password"])
    req = rp.auth_request(request_uri="https://rp.example.test/request.jwt")
    rp.expect_error(req, rp.authorize(agent, req, None), "request_uri_not_supported")


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
        rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """A request object by value is not supported (as advertised): request_not_supported,
    never silently ignored, signed in or not."""
    assert rp.config["request_parameter_supported"] is False
    req = rp.auth_request()
    req.params["request"] = _unsigned_jwt({k: v for k, v in req.params.items()})
    rp.expect_error(req, rp.authorize(agent, req, None), "request_not_supported")
    agent.login(citizen["username"], citizen["password"])
    rp.expect_error(req, rp.authorize(agent, req, None), "request_not_supported")


def test_oidcc_ensure_request_object_with_redirect_uri(rp: RelyingParty,
                                                       agent: UserAgent) -> None:
    """A request object naming another redirect URI cannot steer the response there: the
    refusal goes to the registered redirect URI of the query, or is an error page."""
    req = rp.auth_request()
    inner = {**req.params, "redirect_uri": "https://attacker.example/cb"}
    req.params["request"] = _unsigned_jwt(inner)
    rp.expect_error(req, rp.authorize(agent, req, None), "request_not_supported")
    del req.params["redirect_uri"]
    page = agent.visit(req.params)
    _error_page(page)


# -- codes -----------------------------------------------------------------------------------


def test_oidcc_codereuse(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """A code redeemed once is invalid_grant the second time."""
    req, code = _code_for(rp, agent, citizen)
    rp.redeem(code, req)
    _error(rp.token_request(rp.code_grant(code, req)), 400, "invalid_grant")


def test_oidcc_codereuse_30seconds(rp: RelyingParty, agent: UserAgent,
                                   citizen: dict[str, Any]) -> None:
    """Replaying a used code is invalid_grant and revokes what the code issued: the access
    token stops working at UserInfo and the refresh token is refused."""
    req, code = _code_for(rp, agent, citizen, "openid offline_access")
    tokens = rp.redeem(code, req)
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    time.sleep(0.5)
    _error(rp.token_request(rp.code_grant(code, req)), 400, "invalid_grant")
    after = rp.userinfo(tokens["access_token"])
    assert after.status_code == 401 and after.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    _error(rp.refresh(tokens["refresh_token"]), 400, "invalid_grant")


def test_code_is_bound_to_its_client(rp: RelyingParty, register: Any, agent: UserAgent,
                                     citizen: dict[str, Any]) -> None:
    """Another client cannot redeem a code; the code is then dead for everyone."""
    other = register()
    req, code = _code_for(rp, agent, citizen)
    _error(other.token_request(other.code_grant(code, req, redirect_uri=rp.redirect_uri)),
           400, "invalid_grant")
    _error(rp.token_request(rp.code_grant(code, req)), 400, "invalid_grant")


def test_code_redirect_uri_must_match(rp: RelyingParty, register: Any, agent: UserAgent,
                                      citizen: dict[str, Any]) -> None:
    """The token request must repeat the authorization request's redirect_uri exactly."""
    two = register("--redirect-uri", "https://rp.example.test/other")
    req, code = _code_for(two, agent, citizen)
    _error(two.token_request(two.code_grant(code, req,
                                            redirect_uri="https://rp.example.test/other")),
           400, "invalid_grant")
    req, code = _code_for(two, agent, citizen)
    grant = two.code_grant(code, req)
    del grant["redirect_uri"]
    missing = two.token_request(grant)
    # RFC 6749 §4.1.3 requires it here: a missing required parameter (invalid_request) or a
    # redirect_uri that does not match the authorization request's (invalid_grant).
    assert missing.json()["error"] in ("invalid_request", "invalid_grant")
    _error(missing, 400, missing.json()["error"])
    _error(two.token_request(two.code_grant(code, req)), 400, "invalid_grant")


# -- refresh tokens ------------------------------------------------------------------------------


def test_oidcc_refresh_token(rp: RelyingParty, register: Any, agent: UserAgent,
                             citizen: dict[str, Any]) -> None:
    """Refresh works and rotates; the token is bound to its client; presenting a rotated token
    again is reuse and revokes the whole family, including the newest tokens."""
    login = rp.login(agent, citizen, "openid profile offline_access")
    first = login.tokens["refresh_token"]

    other = register()
    _error(other.refresh(first), 400, "invalid_grant")

    resp = rp.refresh(first)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    renewed = resp.json()
    second = renewed["refresh_token"]
    assert second != first
    assert set(renewed["scope"].split()) == {"openid", "profile", "offline_access"}
    if "id_token" in renewed:  # OIDC Core §12.2
        claims = rp.verify_id_token(renewed["id_token"], nonce=None,
                                    access_token=renewed["access_token"])
        assert claims["sub"] == login.sub
        assert claims["auth_time"] == login.id_claims["auth_time"]
    info = rp.claims(renewed["access_token"], login.sub)
    assert info["name"] == citizen["name"]

    # Reuse of the rotated token: refused, and the family is revoked.
    _error(rp.refresh(first), 400, "invalid_grant")
    _error(rp.refresh(second), 400, "invalid_grant")
    assert rp.userinfo(renewed["access_token"]).status_code == 401
    assert rp.userinfo(login.tokens["access_token"]).status_code == 401


def test_refresh_token_needs_offline_access(rp: RelyingParty, agent: UserAgent,
                                            citizen: dict[str, Any]) -> None:
    """No offline_access, no refresh token; a made-up refresh token is invalid_grant."""
    login = rp.login(agent, citizen, "openid profile")
    assert "refresh_token" not in login.tokens
    _error(rp.refresh("made-up-refresh-token"), 400, "invalid_grant")


# -- PKCE ----------------------------------------------------------------------------------------


def test_pkce_refusals(rp: RelyingParty, agent: UserAgent, citizen: dict[str, Any]) -> None:
    """PKCE (RFC 7636, RFC 9700 §2.1.1): a missing or wrong verifier is invalid_grant, a
    verifier for a code without challenge is refused, and plain is not accepted."""
    req, code = _code_for(rp, agent, citizen, pkce=True)
    grant = rp.code_grant(code, req)
    del grant["code_verifier"]
    _error(rp.token_request(grant), 400, "invalid_grant")

    req, code = _code_for(rp, agent, citizen, pkce=True)
    wrong = rp.code_grant(code, req, code_verifier="x" * 64)
    _error(rp.token_request(wrong), 400, "invalid_grant")
    _error(rp.token_request(rp.code_grant(code, req)), 400, "invalid_grant")  # burnt

    req, code = _code_for(rp, agent, citizen)
    _error(rp.token_request(rp.code_grant(code, None, code_verifier="y" * 64)),
           400, "invalid_request")

    plain = rp.auth_request(pkce=True, code_challenge="p" * 64, code_challenge_method="plain")
    rp.expect_error(plain, rp.authorize(agent, plain, None), "invalid_request")


def test_public_client_must_use_pkce(rp: RelyingParty, agent: UserAgent,
                                     citizen: dict[str, Any]) -> None:
    """A public client without code_challenge gets invalid_request at its redirect URI."""
    app = rp.server.demo["clients"]["app"]
    public = RelyingParty(rp.server, app["client_id"], None, "http://127.0.0.1/callback")
    req = public.auth_request()
    resp = public.expect_error(req, public.authorize(agent, req, citizen), "invalid_request")
    assert "code_challenge" in resp.params["error_description"]
    assert agent.sign_ins == 0  # refused before the citizen is asked anything


# -- token endpoint ------------------------------------------------------------------------------


def test_token_endpoint_client_authentication(rp: RelyingParty, agent: UserAgent,
                                              citizen: dict[str, Any]) -> None:
    """A wrong secret or unknown client is 401 invalid_client with a challenge; the code it
    tried is not issued to anyone (it is consumed only by a real redemption)."""
    req, code = _code_for(rp, agent, citizen)
    wrong = rp.token_request(rp.code_grant(code, req), secret="wrong-secret")
    _error(wrong, 401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    _error(rp.token_request(rp.code_grant(code, req), auth="post", secret="wrong-secret"),
           401, "invalid_client")
    _error(rp.token_request(rp.code_grant(code, req), auth="none"), 401, "invalid_client")
    unknown = rp.http.post(rp.endpoint("token"), data=rp.code_grant(code, req),
                           auth=("no-such-client", "secret"), timeout=10)
    _error(unknown, 401, "invalid_client")
    rp.redeem(code, req)  # the real client still can: failed authentication burnt nothing


def test_token_endpoint_bad_requests(rp: RelyingParty, agent: UserAgent,
                                     citizen: dict[str, Any]) -> None:
    """Missing or unsupported grant_type, missing or unknown code, a malformed body: each the
    RFC 6749 §5.2 error, and nothing issued."""
    req, code = _code_for(rp, agent, citizen)
    no_grant = rp.code_grant(code, req)
    del no_grant["grant_type"]
    _error(rp.token_request(no_grant), 400, "invalid_request")
    _error(rp.token_request({"grant_type": "password", "username": citizen["username"],
                             "password": citizen["password"]}), 400, "unsupported_grant_type")
    _error(rp.token_request({"grant_type": "implicit"}), 400, "unsupported_grant_type")
    no_code = rp.code_grant(code, req)
    del no_code["code"]
    _error(rp.token_request(no_code), 400, "invalid_request")
    _error(rp.token_request(rp.code_grant("not-a-code", req)), 400, "invalid_grant")
    as_json = rp.http.post(rp.endpoint("token"), data=json.dumps(rp.code_grant(code, req)),
                           headers={"Content-Type": "application/json"},
                           auth=(rp.client_id, rp.client_secret or ""), timeout=10)
    _error(as_json, 400, "invalid_request")
    rp.redeem(code, req)  # none of the refusals consumed the code

    get = rp.http.get(rp.endpoint("token"), timeout=10)
    assert get.status_code == 405 and get.json()["error"] == "invalid_request"


# -- robustness ----------------------------------------------------------------------------------

ODD_VALUES = ('"', "\\", "中文", "a\x00b", "x" * 3000)


def test_odd_parameter_values_never_cause_a_server_error(rp: RelyingParty, agent: UserAgent,
                                                         citizen: dict[str, Any]) -> None:
    """Quotes, backslashes, non-ASCII, NUL or very long values in any parameter are refused
    as bad requests (or ignored), never a 500 — error descriptions must not echo them."""
    agent.login(citizen["username"], citizen["password"])
    for name in ("response_type", "client_id", "redirect_uri", "scope", "state", "prompt",
                 "max_age", "id_token_hint", "code_challenge", "code_challenge_method",
                 "ui_locales", "claims", "login_hint"):
        for value in ODD_VALUES:
            req = rp.auth_request(pkce=True, **{name: value})
            resp = agent.http.get(rp.endpoint("authorization"), params=req.params,
                                  allow_redirects=False, timeout=10)
            assert resp.status_code in (200, 302, 400), (name, value[:10], resp.status_code)
            location = resp.headers.get("Location", "")
            assert not location or location.startswith((rp.redirect_uri + "?", "/")), location
    # Parameters named like url_for()'s own arguments survive the sign-in detour of a POST.
    req = rp.auth_request(endpoint="x", _external="1", _anchor="y", _method="GET")
    rp.expect_code(req, rp.authorize(UserAgent(rp.server.url), req, citizen, method="POST"))
    for name in ("grant_type", "code", "redirect_uri", "code_verifier", "refresh_token"):
        for value in ODD_VALUES:
            data = {"grant_type": "authorization_code", "code": "c",
                    "redirect_uri": rp.redirect_uri, name: value}
            resp = rp.token_request(data)
            _error(resp, 400, resp.json().get("error", "(none)"))
    for header in ("Basic", "Basic !!!", "Basic YQ==", "Bearer x", "Basic " + "A" * 5000):
        resp = rp.http.post(rp.endpoint("token"), data={"grant_type": "authorization_code"},
                            headers={"Authorization": header}, timeout=10)
        assert resp.status_code in (400, 401), (header[:20], resp.status_code)
    # The sign-in page names the client the citizen is signing in to (?client=...).
    login = agent.http.get(f"{rp.server.url}/login", params={"client": "a\x00b"}, timeout=10)
    assert login.status_code == 200
