"""`idp tokens purge` (SQLite and PostgreSQL): issuance records go once every token they hold
has expired and the grace has passed — never a row whose refresh token is still usable."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.store.models import AuditEvent, Token
from idp.tokens import IssueContext
from idp.tokens.purge import TokenPurge
from tests.factories import make_citizen, make_client


@pytest.fixture
def services(clocked_services):
    return clocked_services


def _issue(services, client, account_id, *, refresh: bool) -> dict:
    return services.tokens.issue(IssueContext(
        client=services.clients.get(client.client_id), account_id=account_id,
        scope="openid offline_access" if refresh else "openid", grant_type="authorization_code",
        include_refresh=refresh, sid="sid-1", auth_time=1_700_000_000, acr="L1", amr=("pwd",)))


def _rows(services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Token)))


def test_rows_go_only_after_every_token_expired_and_the_grace(services, clock):
    citizen, client = make_citizen(services), make_client(services)
    website = services.settings.channels.website
    access_only = _issue(services, client, citizen.sub, refresh=False)
    with_refresh = _issue(services, client, citizen.sub, refresh=True)
    purge = TokenPurge(services.engine, services.audit, clock=clock)
    assert _rows(services) == 2

    clock.advance(website.access_token_ttl + 10)  # both access tokens expired
    assert purge.run(grace=60).deleted == 0  # …but within the grace
    clock.advance(60)
    result = purge.run(grace=60)
    assert result.deleted == 1 and _rows(services) == 1  # the refresh token is still usable
    assert services.tokens.validate_access_token(access_only["access_token"]) is None
    assert services.tokens.rotate_refresh(with_refresh["refresh_token"], client.client_id)

    clock.advance(website.refresh_token_ttl)
    assert purge.run(grace=0).deleted == 1 and _rows(services) == 0  # rotated, then expired
    with services.sessions() as s:
        extras = list(s.scalars(select(AuditEvent.extra).where(
            AuditEvent.tag == "token:purge:success")))
    assert [e["deleted"] for e in extras] == [0, 1, 1]


def test_batches_delete_everything_due(services, clock):
    citizen, client = make_citizen(services), make_client(services)
    for _ in range(7):
        _issue(services, client, citizen.sub, refresh=False)
    clock.advance(services.settings.channels.website.access_token_ttl + 1)
    result = TokenPurge(services.engine, services.audit, clock=clock).run(grace=0, batch=3)
    assert (result.deleted, result.batches) == (7, 3) and _rows(services) == 0


@pytest.mark.parametrize("grace, batch", [(-1, 10), (0, 0)])
def test_bad_limits_are_refused_and_nothing_is_deleted(services, clock, grace, batch):
    _issue(services, make_client(services), make_citizen(services).sub, refresh=False)
    clock.advance(10**7)
    with pytest.raises(ValueError):
        TokenPurge(services.engine, services.audit, clock=clock).run(grace=grace, batch=batch)
    assert _rows(services) == 1
