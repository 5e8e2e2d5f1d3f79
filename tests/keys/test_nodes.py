"""Several IdP nodes on one database (SQLite and PostgreSQL): cron on every node rotates once,
a key made on one node signs on another that has only the wrapping key, and changes made on
one node reach the others' rings without a restart."""

from __future__ import annotations

import threading

from joserfc import jwt
from sqlalchemy import select

from idp.store.models import Token
from idp.tokens import IssueContext
from tests.factories import make_citizen, make_client
from tests.keys.conftest import OVERLAP, PERIOD


def _all_at_once(nodes, call):
    """Run ``call(node)`` on every node in its own thread, released together."""
    barrier = threading.Barrier(len(nodes))
    results, errors = [None] * len(nodes), []

    def run(i, node):
        barrier.wait()
        try:
            results[i] = call(node)
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def _states(services):
    return sorted((k.alg, k.state) for k in services.keys.list_keys())


def test_cron_on_every_node_at_once_rotates_and_switches_exactly_once(services, make_node,
                                                                      clock):
    nodes = [services, make_node("node-2"), make_node("node-3"), make_node("node-4")]
    clock.advance(PERIOD - OVERLAP)  # the next keys are due to be published
    results = _all_at_once(nodes, lambda n: n.keys.rotate_if_due(actor="cron"))
    assert sorted(kid for r in results for kid in r["rotated"]) == sorted(
        k.kid for k in services.keys.list_keys() if k.state == "next")
    assert _states(services) == [("ES256", "active"), ("ES256", "next"),
                                 ("RS256", "active"), ("RS256", "next")]
    assert len(services.audit.events(tag="key:rotate")) == 2

    clock.advance(OVERLAP)  # the period ends: every node switches at once
    results = _all_at_once(nodes, lambda n: n.keys.rotate_if_due(actor="cron"))
    assert _states(services) == [("ES256", "active"), ("ES256", "retired"),
                                 ("RS256", "active"), ("RS256", "retired")]
    assert len([line for r in results for line in r["advanced"]]) == 4  # 2 active, 2 retired
    assert len(services.audit.events(tag="key:activate")) == 2
    assert services.audit.verify([]).ok


def test_racing_inserts_keep_one_next_key_per_algorithm(services, make_node):
    """Both nodes see no next key, both generate one; the unique index lets one in and the
    other node returns the winner's key."""
    other = make_node()
    life = services.keys._life
    mint = life._mint

    def mint_after_the_other_node(*args):
        life._mint = mint
        other.keys.rotate(actor="node-2", algs=["ES256"])  # gets in first
        return mint(*args)

    life._mint = mint_after_the_other_node
    [mine] = services.keys.rotate(actor="node-1", algs=["ES256"])
    [theirs] = [k for k in services.keys.list_keys() if k.state == "next"]
    assert mine.kid == theirs.kid
    assert [e.actor for e in services.audit.events(tag="key:rotate")] == ["node-2"]


def test_a_node_signs_with_a_key_another_node_created(services, make_node, clock):
    other = make_node()
    assert not list((other.settings.keys_dir / "signing").glob("*.pem"))
    [upcoming] = services.keys.rotate(actor="cli", algs=["ES256"])
    clock.advance(1)  # the other node's next look at the table
    assert upcoming.kid in {j["kid"] for j in other.keys.ring().published}
    clock.advance(OVERLAP)
    assert other.keys.ring().signer("ES256").kid == upcoming.kid  # switched, no cron

    citizen, rp = make_citizen(other), make_client(other)
    token = other.tokens.issue(IssueContext(
        client=other.clients.get(rp.client_id), account_id=citizen.sub, scope="openid",
        grant_type="authorization_code", include_refresh=False))["access_token"]
    decoded = jwt.decode(token, services.tokens.verification_keys())  # first node verifies
    assert decoded.header["kid"] == upcoming.kid
    assert services.tokens.validate_access_token(token) is not None


def test_a_revoke_on_one_node_reaches_the_others(services, make_node, clock):
    other = make_node()
    citizen, rp = make_citizen(services), make_client(services)
    active = other.keys.ring().signer("ES256").kid

    services.keys.revoke(active, actor="staff:sec", reason="test")
    # Within the other node's stale window it still signed with the revoked key …
    late = other.tokens.issue(IssueContext(
        client=other.clients.get(rp.client_id), account_id=citizen.sub, scope="openid",
        grant_type="authorization_code", include_refresh=False))["access_token"]
    clock.advance(1)  # … until it looks at the table again
    ring = other.keys.ring()
    assert active not in {j["kid"] for j in ring.published}
    assert ring.signer("ES256").kid != active
    assert services.tokens.validate_access_token(late) is None
    with services.sessions() as session:  # and its record was revoked when the node noticed
        rows = list(session.scalars(select(Token).where(Token.kid == active)))
    assert len(rows) == 1 and rows[0].revoked_reason == "key_revoked"
