"""Pairwise subject identifiers end to end (OIDC Core §8.1), through the Flask test client:
every ``sub`` a client receives — ID token, access token, userinfo, introspection, logout
token — is the same per-sector value, different across sectors, the account id for public
clients."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from idp.sessions.service import SsoSession
from tests.factories import make_citizen, make_client
from tests.oidc.test_id_card import authorize, id_token_claims, redeem, userinfo
from tests.web.test_account_centre import sign_in

SCOPE = "openid profile offline_access"


def _pairwise(services: Any, host: str, **kw: Any) -> Any:
    return make_client(services, redirect_uri=f"https://{host}/callback", skip_consent=True,
                       subject_type="pairwise", **kw)


def _tokens(browser: Any, rp: Any) -> dict[str, Any]:
    resp, verifier = authorize(browser, rp, scope=SCOPE)
    return redeem(browser, rp, resp, verifier)


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return value


def _introspect(browser: Any, rp: Any, token: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{rp.client_id}:{rp.secret}".encode()).decode()
    resp = browser.post("/introspect", headers={"Authorization": f"Basic {basic}"},
                        data={"token": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body: dict[str, Any] = resp.get_json()
    assert body["active"] is True
    return body


def _every_sub(browser: Any, rp: Any) -> set[str]:
    """The subs one sign-in gives ``rp`` at every place a sub reaches a client."""
    tokens = _tokens(browser, rp)
    return {id_token_claims(tokens)["sub"], _claims(tokens["access_token"])["sub"],
            userinfo(browser, tokens["access_token"])["sub"],
            _introspect(browser, rp, tokens["access_token"])["sub"],
            _introspect(browser, rp, tokens["refresh_token"])["sub"]}


def test_discovery_advertises_pairwise(client: Any) -> None:
    config = client.get("/.well-known/openid-configuration").get_json()
    assert config["subject_types_supported"] == ["public", "pairwise"]


def test_one_pairwise_sub_everywhere_per_sector_and_none_shared_across_sectors(
        client: Any, services: Any) -> None:
    citizen = make_citizen(services)
    tax, tax_mobile = _pairwise(services, "tax.example.gov.cn"), \
        _pairwise(services, "tax.example.gov.cn")
    health = _pairwise(services, "health.example.gov.cn")
    public = make_client(services, skip_consent=True)
    sign_in(client, citizen)

    [tax_sub] = _every_sub(client, tax)
    [tax_mobile_sub] = _every_sub(client, tax_mobile)
    [health_sub] = _every_sub(client, health)
    assert tax_sub == tax_mobile_sub  # one sector: the same sub
    assert health_sub != tax_sub  # two sectors cannot join their data by sub
    assert citizen.sub not in (tax_sub, health_sub)
    assert _every_sub(client, public) == {citizen.sub}  # public clients: the account id


def test_the_pairwise_sub_is_stable_across_sign_ins(client: Any, app: Any,
                                                    services: Any) -> None:
    citizen, other = make_citizen(services), make_citizen(services)
    tax = _pairwise(services, "tax.example.gov.cn")
    sign_in(client, citizen)
    first = id_token_claims(_tokens(client, tax))["sub"]
    later = app.test_client()
    sign_in(later, citizen)
    assert id_token_claims(_tokens(later, tax))["sub"] == first
    someone_else = app.test_client()
    sign_in(someone_else, other)
    assert id_token_claims(_tokens(someone_else, tax))["sub"] != first


def test_an_id_token_hint_with_the_pairwise_sub_names_the_signed_in_citizen(
        client: Any, services: Any) -> None:
    citizen = make_citizen(services)
    tax = _pairwise(services, "tax.example.gov.cn")
    sign_in(client, citizen)
    hint = _tokens(client, tax)["id_token"]
    resp, _ = authorize(client, tax, scope="openid", prompt="none", id_token_hint=hint)
    assert resp.status_code == 302 and "code=" in resp.headers["Location"]


@pytest.mark.usefixtures("client")
def test_logout_tokens_carry_the_clients_pairwise_sub(
        services: Any, make_listener: Any) -> None:
    citizen = make_citizen(services)
    tax_listener, public_listener = make_listener(), make_listener()
    tax = _pairwise(services, "tax.example.gov.cn", backchannel_logout_uri=tax_listener.uri)
    public = make_client(services, backchannel_logout_uri=public_listener.uri)
    ended = SsoSession(sid="sid-" + "p" * 28, account_id=citizen.sub, auth_time=1,
                       created_at=1, clients={tax.client_id: "website",
                                              public.client_id: "website"})
    assert services.backchannel.session_ended(ended) == 2
    services.backchannel.deliver_due()
    [(_, tax_claims)] = tax_listener.tokens
    [(_, public_claims)] = public_listener.tokens
    assert tax_claims["sub"] == services.subjects.sub_for(citizen.sub,
                                                          services.clients.get(tax.client_id))
    assert tax_claims["sub"] != citizen.sub and public_claims["sub"] == citizen.sub
    # The queue and the audit trail keep the account id (internal).
    assert {d.sub for d in services.backchannel.queue.list(sid=ended.sid)} == {citizen.sub}
    assert {e.subject for e in services.audit.events(tag="logout:backchannel:success")} \
        == {citizen.sub}
