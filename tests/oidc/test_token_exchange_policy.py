"""Token-exchange policy (RFC 8693) on SQLite and PostgreSQL, in process.

The exchange rules and actor clients of ``[token_exchange]``, and the refusals that need a state
the HTTP flows cannot easily reach: a sign-in below the channel's assurance level, a locked
account, a client-only subject token, a suspended source client. A counter terminal acts for the
citizen with its own token (``may_act``), as its device grant would issue it.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from joserfc import jwt
from sqlalchemy import update

from idp.clients import ChannelPolicies
from idp.config import load_settings
from idp.config.settings import CLIENT_CREDENTIALS, DEVICE_CODE
from idp.store.models import Account, Client
from idp.tokens import IssueContext
from tests.factories import make_citizen, make_client

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def _policies(**exchange: Any) -> ChannelPolicies:
    settings = load_settings({}, overrides={"token_exchange": exchange} if exchange else None)
    return ChannelPolicies(settings.channels, settings.token_exchange)


def test_default_rules_allow_app_to_miniprogram_only():
    policies = _policies()
    assert policies.exchange_allowed("a1", "app", "m1", "miniprogram")
    for source, target in (("website", "miniprogram"), ("app", "website"),
                           ("miniprogram", "miniprogram"), ("counter", "miniprogram")):
        assert not policies.exchange_allowed("s", source, "t", target), (source, target)
    assert policies.may_act("c1", "counter")
    assert not policies.may_act("a1", "app") and not policies.may_act("w1", "website")


def test_rules_may_name_client_ids():
    policies = _policies(allow=["app-1 -> channel:miniprogram", "channel:app -> mp-2"],
                         actor_clients=["kiosk-7"])
    assert policies.exchange_allowed("app-1", "website", "m", "miniprogram")
    assert policies.exchange_allowed("x", "app", "mp-2", "website")
    assert not policies.exchange_allowed("x", "app", "mp-3", "miniprogram")
    assert policies.may_act("kiosk-7", "service") and not policies.may_act("c", "counter")


# -- through the token endpoint, with tokens the services mint ---------------------------------


@pytest.fixture
def world(services):
    citizen = make_citizen(services)
    app = make_client(services, channel="app", redirect_uri="http://127.0.0.1/cb",
                      skip_consent=True)
    mini = make_client(services, channel="miniprogram", skip_consent=True,
                       redirect_uri="https://mp.example.gov.cn/cb")
    return {"citizen": citizen, "app": app, "mini": mini}


def _app_token(services, world, *, acr: str | None = "L1") -> tuple[str, str]:
    session = services.sso.start(world["citizen"].sub, amr=["pwd"], acr=acr)
    token = services.tokens.issue(IssueContext(
        client=services.clients.get(world["app"].client_id), account_id=world["citizen"].sub,
        scope="openid profile", grant_type="authorization_code", include_refresh=False,
        sid=session.sid, auth_time=session.auth_time, acr=acr, amr=("pwd",)))
    return token["access_token"], session.sid


def _exchange(client, world, subject: str, **extra: str):
    mini = world["mini"]
    basic = base64.b64encode(f"{mini.client_id}:{mini.secret}".encode()).decode()
    return client.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS,
        **extra})


def _refused(resp, error: str, fragment: str) -> None:
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == error and fragment in body["error_description"], body
    assert "access_token" not in body


def test_counter_terminal_may_act(client, services, world):
    subject, sid = _app_token(services, world)
    counter = make_client(services, channel="counter", skip_consent=True)
    actor = services.tokens.issue(IssueContext(
        client=services.clients.get(counter.client_id), account_id=None, scope="openid",
        grant_type=DEVICE_CODE, include_refresh=False))["access_token"]
    resp = _exchange(client, world, subject, actor_token=actor, actor_token_type=ACCESS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    claims = jwt.decode(resp.get_json()["access_token"],
                        services.tokens.verification_keys()).claims
    assert claims["act"] == {"sub": counter.client_id, "client_id": counter.client_id}
    assert claims["sid"] == sid and claims["sub"] == world["citizen"].sub
    assert services.sso.get(sid).clients[world["mini"].client_id] == "miniprogram"


def test_sign_in_below_the_channels_level_is_invalid_grant(client, services, world):
    subject, _ = _app_token(services, world, acr=None)
    _refused(_exchange(client, world, subject), "invalid_grant",
             "requires assurance level L1; the citizen's sign-in reached none")


def test_locked_account_is_invalid_grant(client, services, world):
    subject, _ = _app_token(services, world)
    with services.sessions.begin() as s:
        s.execute(update(Account).where(Account.id == world["citizen"].sub)
                  .values(status="locked"))
    _refused(_exchange(client, world, subject), "invalid_grant", "account is not active")


def test_a_client_only_token_is_not_a_subject(client, services, world):
    service = make_client(services, channel="service")
    record = services.clients.get(service.client_id)
    assert record.grant_types == (CLIENT_CREDENTIALS,)
    token = services.tokens.issue(IssueContext(
        client=record, account_id=None, scope="", grant_type=CLIENT_CREDENTIALS,
        include_refresh=False))["access_token"]
    _refused(_exchange(client, world, token), "invalid_request",
             "does not represent a signed-in citizen")


def test_suspended_source_client(client, services, world):
    subject, _ = _app_token(services, world)
    with services.sessions.begin() as s:
        s.execute(update(Client).where(Client.client_id == world["app"].client_id)
                  .values(status="suspended"))
    services.clients.invalidate()
    _refused(_exchange(client, world, subject), "invalid_request", "not active")


def test_a_pairwise_mini_program_gets_its_sectors_sub(client, services, world):
    """Exchanged tokens carry the target client's view of the citizen: a pairwise mini-program
    gets its sector's sub — not the app's (public) one, not another sector's."""
    world["mini"] = make_client(services, channel="miniprogram", skip_consent=True,
                                subject_type="pairwise",
                                redirect_uri="https://mp.health.example.gov.cn/cb")
    other = make_client(services, subject_type="pairwise", skip_consent=True,
                        redirect_uri="https://tax.example.gov.cn/cb")
    subject, _ = _app_token(services, world)
    resp = _exchange(client, world, subject, scope="openid")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    keys = services.tokens.verification_keys()
    access = jwt.decode(resp.get_json()["access_token"], keys).claims
    id_token = jwt.decode(resp.get_json()["id_token"], keys).claims
    citizen = world["citizen"].sub
    expected = services.subjects.sub_for(citizen, services.clients.get(world["mini"].client_id))
    assert access["sub"] == id_token["sub"] == expected != citizen
    assert expected != services.subjects.sub_for(citizen, services.clients.get(other.client_id))
