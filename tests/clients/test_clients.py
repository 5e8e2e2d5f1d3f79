"""Client registry: channels, secrets stored as digests, redirect URI rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.clients import NewClient
from idp.errors import NotFound, ValidationError
from idp.store.models import Client


def test_confidential_client_gets_a_secret_stored_as_digest(services):
    record, secret = services.clients.create(NewClient(
        name="税务门户", channel="website", redirect_uris=("https://tax.example.gov.cn/cb",)))
    assert record.client_type == "confidential" and secret and len(secret) >= 43
    with services.sessions() as s:
        row = s.get(Client, record.client_id)
    assert row.secret_digest != secret and len(row.secret_digest) == 64
    assert record.check_secret(secret)
    assert not record.check_secret(secret + "x") and not record.check_secret("")


def test_app_is_public_with_native_redirects(services):
    record, secret = services.clients.create(NewClient(
        name="App", channel="app",
        redirect_uris=("http://127.0.0.1/callback", "cn.gov.example.app:/cb",
                       "https://app.example.gov.cn/cb")))
    assert secret is None and record.is_public
    assert record.token_endpoint_auth_method == "none"


@pytest.mark.parametrize(("channel", "uri"), [
    ("website", "http://portal.example.gov.cn/cb"),
    ("website", "https://portal.example.gov.cn/cb#frag"),
    ("website", "https://*.example.gov.cn/cb"),
    ("website", "javascript:alert(1)"),
    ("website", "cn.gov.example.app:/cb"),
    ("app", "myapp:/cb"),
    ("app", "data:text/html,hi"),
    ("website", "/relative/cb"),
])
def test_unsafe_redirect_uris_are_refused(services, channel, uri):
    with pytest.raises(ValidationError) as exc:
        services.clients.create(NewClient(name="x", channel=channel, redirect_uris=(uri,)))
    assert exc.value.code == "client.redirect_uri"
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Client)) == 0


def test_unknown_channel_and_scope_are_refused(services):
    with pytest.raises(ValidationError):
        services.clients.create(NewClient(name="x", channel="fax",
                                          redirect_uris=("https://a.example/cb",)))
    with pytest.raises(ValidationError):
        services.clients.create(NewClient(name="x", channel="website", scopes=("root",),
                                          redirect_uris=("https://a.example/cb",)))


def test_service_channel_needs_no_redirect(services):
    record, secret = services.clients.create(NewClient(name="社保后台", channel="service"))
    assert record.grant_types == ("client_credentials",) and secret


def test_rotating_the_secret_keeps_the_old_one_for_the_grace_period(services):
    record, old = services.clients.create(NewClient(
        name="p", channel="website", redirect_uris=("https://a.example/cb",)))
    rotated, new = services.clients.rotate_secret(record.client_id, grace=3600)
    fresh = services.clients.get(record.client_id)
    until = fresh.extra["previous_secret"]["until"]
    assert fresh.check_secret(new) and fresh.check_secret(old, now=until - 1)
    assert not fresh.check_secret(old, now=until)  # the grace period is over
    assert old not in str(fresh.extra) and new not in str(fresh.extra)  # digests only
    [event] = services.audit.events(tag="client:secret:rotate")
    assert event.extra == {"grace": 3600} and new not in str(vars(event))
    # Rotating again: only the secret just replaced stays usable for a while.
    _, newest = services.clients.rotate_secret(record.client_id, grace=0)
    again = services.clients.get(record.client_id)
    assert again.check_secret(newest) and not again.check_secret(new)
    assert not again.check_secret(old)


def test_a_public_client_has_no_secret_to_rotate(services):
    record, _ = services.clients.create(NewClient(
        name="app", channel="app", redirect_uris=("http://127.0.0.1/cb",)))
    with pytest.raises(ValidationError, match="public client"):
        services.clients.rotate_secret(record.client_id, grace=60)
    assert services.clients.get(record.client_id).secret_digest is None
    with pytest.raises(NotFound):
        services.clients.rotate_secret("no-such-client", grace=60)


@pytest.mark.parametrize("uri", [
    "https://other.example.gov.cn/fc",  # another host
    "https://portal.example.gov.cn:8443/fc",  # another port
    "http://portal.example.gov.cn/fc",  # another scheme (and not loopback)
])
def test_front_channel_logout_uri_must_be_on_a_redirect_uris_origin(services, uri):
    """Front-Channel Logout 1.0 §2: the IdP frames only the client's own site."""
    with pytest.raises(ValidationError):
        services.clients.create(NewClient(
            name="FC portal", channel="website", frontchannel_logout_uri=uri,
            redirect_uris=("https://portal.example.gov.cn/callback",)))
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 0
    record, _ = services.clients.create(NewClient(
        name="FC portal", channel="website",
        redirect_uris=("https://portal.example.gov.cn/callback",),
        frontchannel_logout_uri="https://portal.example.gov.cn/oidc/fc?x=1"))
    assert record.frontchannel_logout_uri == "https://portal.example.gov.cn/oidc/fc?x=1"
    with pytest.raises(ValidationError):
        services.clients.set_logout_uris(record.client_id, backchannel=None, frontchannel=uri)
    assert services.clients.get(record.client_id).frontchannel_logout_uri.endswith("?x=1")
