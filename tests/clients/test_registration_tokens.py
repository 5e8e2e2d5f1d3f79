"""Initial access tokens (idp.clients.initial_tokens, RFC 7591 §3): shown once and kept as a
digest; each use counted atomically, and only while the token is live; a use made in a
transaction that rolls back is given back."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest
from sqlalchemy import select

from idp.clients.initial_tokens import InitialTokenRefused
from idp.errors import NotFound, ValidationError
from idp.store.models import InitialAccessToken


def _uses(services: Any, token_id: int) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(InitialAccessToken.uses)
                                  .where(InitialAccessToken.id == token_id)))


def test_a_token_is_shown_once_and_stored_as_a_digest(services: Any) -> None:
    token, row = services.initial_tokens.issue(label="人社局", ttl=3600, max_uses=2,
                                               actor="staff:wang")
    assert len(token) >= 43 and row.uses == 0 and row.max_uses == 2
    with services.sessions() as session:
        stored = session.get(InitialAccessToken, row.id)
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.label, stored.created_by)
    event = services.audit.events(tag="client:initial-token:issue", limit=1)[0]
    assert event.actor == "staff:wang" and event.extra["token_id"] == row.id
    assert token not in str(event.extra)


def test_uses_are_counted_until_used_up(services: Any) -> None:
    token, row = services.initial_tokens.issue(label="x", ttl=3600, max_uses=2, actor="t")
    assert services.initial_tokens.verify(token).id == row.id
    assert services.initial_tokens.consume(token).uses == 1
    assert services.initial_tokens.consume(token).uses == 2
    with pytest.raises(InitialTokenRefused, match="used up"):
        services.initial_tokens.consume(token)
    with pytest.raises(InitialTokenRefused, match="used up"):
        services.initial_tokens.verify(token)
    assert _uses(services, row.id) == 2


def test_unknown_expired_and_revoked_tokens_are_refused(services: Any) -> None:
    tokens = services.initial_tokens
    with pytest.raises(InitialTokenRefused, match="not known"):
        tokens.consume("no-such-token")
    with pytest.raises(InitialTokenRefused, match="not known"):
        tokens.verify("x" * 500)
    token, row = tokens.issue(label="x", ttl=60, max_uses=1, actor="t")
    with services.sessions.begin() as session:  # its minute is over
        session.get(InitialAccessToken, row.id).expires_at = row.created_at
    with pytest.raises(InitialTokenRefused, match="expired"):
        tokens.consume(token)
    token, row = tokens.issue(label="y", ttl=3600, max_uses=1, actor="t")
    tokens.revoke(row.id, actor="staff:li")
    with pytest.raises(InitialTokenRefused, match="revoked"):
        tokens.verify(token)
    with pytest.raises(InitialTokenRefused, match="revoked"):
        tokens.consume(token)
    assert _uses(services, row.id) == 0
    assert [e.actor for e in services.audit.events(tag="client:initial-token:revoke")] == \
        ["staff:li"]
    for unknown in (99999, 0, -1, 2**64):
        with pytest.raises(NotFound):
            tokens.revoke(unknown, actor="t")


def test_a_use_in_a_rolled_back_transaction_is_given_back(services: Any) -> None:
    token, row = services.initial_tokens.issue(label="x", ttl=3600, max_uses=1, actor="t")
    with pytest.raises(RuntimeError), services.sessions.begin() as session:
        services.initial_tokens.consume(token, session=session)
        raise RuntimeError("the registration failed after the use was counted")
    assert _uses(services, row.id) == 0
    services.initial_tokens.consume(token)
    assert _uses(services, row.id) == 1


def test_concurrent_uses_never_exceed_the_limit(services: Any) -> None:
    token, row = services.initial_tokens.issue(label="x", ttl=3600, max_uses=3, actor="t")
    outcomes: list[bool] = []

    def use() -> None:
        try:
            services.initial_tokens.consume(token)
            outcomes.append(True)
        except InitialTokenRefused:
            outcomes.append(False)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 3 and _uses(services, row.id) == 3


@pytest.mark.parametrize(("label", "ttl", "uses", "words"), [
    ("", 3600, 1, "label"), ("x" * 201, 3600, 1, "label"), ("x", 59, 1, "lifetime"),
    ("x", 91 * 86400, 1, "lifetime"), ("x", 3600, 0, "uses"), ("x", 3600, 101, "uses"),
])
def test_bad_issue_requests_are_refused(services: Any, label: str, ttl: int, uses: int,
                                        words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        services.initial_tokens.issue(label=label, ttl=ttl, max_uses=uses, actor="t")
    assert services.initial_tokens.list() == []


def test_list_is_newest_first(services: Any) -> None:
    for label in ("a", "b"):
        services.initial_tokens.issue(label=label, ttl=3600, max_uses=1, actor="t")
    assert [r.label for r in services.initial_tokens.list()] == ["b", "a"]
