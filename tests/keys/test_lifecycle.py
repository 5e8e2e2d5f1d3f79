"""The signing-key lifecycle on one node, on a fake clock (SQLite and PostgreSQL): next →
active → retired → removed, each transition, idempotence, rotate_if_due timing, retire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.clock import as_aware, to_datetime
from idp.errors import Conflict, NotFound, ValidationError
from tests.keys.conftest import MAX_TTL, OVERLAP, PERIOD


def _by_kid(services):
    return {k.kid: k for k in services.keys.list_keys()}


def _active(services, alg="ES256"):
    return next(k for k in services.keys.list_keys() if k.alg == alg and k.state == "active")


def _published(services):
    return {jwk["kid"] for jwk in services.keys.ring().published}


def test_rotate_publishes_next_keys_that_do_not_sign_yet(services, clock):
    before = {alg: _active(services, alg).kid for alg in ("RS256", "ES256")}
    rotated = services.keys.rotate(actor="staff:alice")
    assert sorted(k.alg for k in rotated) == ["ES256", "RS256"]
    assert {k.state for k in rotated} == {"next"}
    for key in rotated:
        assert as_aware(key.activates_at) == to_datetime(clock()) + timedelta(seconds=OVERLAP)
        assert key.private_enc is not None
    ring = services.keys.ring()
    assert {k.kid for k in rotated} < _published(services)
    assert {alg: ring.signer(alg).kid for alg in before} == before
    events = services.audit.events(tag="key:rotate")
    assert {(e.actor, e.extra["alg"]) for e in events} == {("staff:alice", "RS256"),
                                                           ("staff:alice", "ES256")}


def test_rotate_is_idempotent(services):
    first = services.keys.rotate(actor="cli", algs=["ES256"])
    second = services.keys.rotate(actor="cli", algs=["ES256"])
    assert [k.kid for k in first] == [k.kid for k in second]
    assert len([k for k in services.keys.list_keys() if k.state == "next"]) == 1
    assert len(services.audit.events(tag="key:rotate")) == 1


@pytest.mark.parametrize("algs", [["HS256"], ["ES256", "none"], []])
def test_rotate_refuses_unsupported_algorithms_and_changes_nothing(services, algs):
    before = _by_kid(services)
    with pytest.raises(ValidationError) as exc:
        services.keys.rotate(actor="cli", algs=algs)
    assert "RS256 or ES256" in exc.value.message
    assert _by_kid(services).keys() == before.keys()


def test_advance_activates_the_next_key_when_due_and_retires_the_old(services, clock):
    old = _active(services)
    [new] = services.keys.rotate(actor="cli", algs=["ES256"])
    clock.advance(OVERLAP - 1)
    assert services.keys.advance(actor="cron") == []
    clock.advance(1)
    assert services.keys.advance(actor="cron") == [f"{new.kid} active", f"{old.kid} retired"]
    assert services.keys.advance(actor="cron") == []  # idempotent
    keys = _by_kid(services)
    assert keys[new.kid].state == "active"
    assert as_aware(keys[new.kid].activated_at) == to_datetime(clock())
    assert keys[old.kid].state == "retired"
    assert as_aware(keys[old.kid].remove_after) == to_datetime(clock() + MAX_TTL)
    assert services.keys.ring().signer("ES256").kid == new.kid
    assert {old.kid, new.kid} <= _published(services)
    [activated] = services.audit.events(tag="key:activate")
    assert activated.extra == {"kid": new.kid, "alg": "ES256", "replaces": old.kid}
    [retired] = services.audit.events(tag="key:retire")
    assert retired.actor == "cron" and retired.extra["kid"] == old.kid


def test_the_ring_switches_by_itself_when_the_overlap_has_passed(services, clock):
    """No cron needed: a node whose snapshot holds a due date runs the transition."""
    [new] = services.keys.rotate(actor="cli", algs=["ES256"])
    ring = services.keys.ring()
    assert ring.signer("ES256").kid != new.kid
    clock.advance(OVERLAP)
    assert services.keys.ring().signer("ES256").kid == new.kid
    assert _by_kid(services)[new.kid].state == "active"
    assert services.audit.events(tag="key:activate")[0].actor == "system"


def test_a_retired_key_stays_published_until_every_token_it_signed_expired(services, clock):
    old = _active(services)
    services.keys.rotate(actor="cli", algs=["ES256"])
    clock.advance(OVERLAP)
    services.keys.advance(actor="cron")
    clock.advance(MAX_TTL - 1)
    assert old.kid in _published(services)
    clock.advance(1)
    assert old.kid not in _published(services)  # the ring removed it when the date passed
    row = _by_kid(services)[old.kid]
    assert row.state == "removed" and row.private_enc is None
    assert as_aware(row.removed_at) == to_datetime(clock())
    [removed] = services.audit.events(tag="key:remove")
    assert removed.extra == {"kid": old.kid, "alg": "ES256"}


def test_rotate_if_due_publishes_the_next_key_an_overlap_before_the_period_ends(services,
                                                                             clock):
    activated = as_aware(_active(services).activated_at).timestamp()
    assert services.keys.rotate_if_due(actor="cron")["rotated"] == []
    clock.now = activated + PERIOD - OVERLAP - 1
    done = services.keys.rotate_if_due(actor="cron")
    assert done["rotated"] == [] and set(done["schedule"]) == {"RS256", "ES256"}
    clock.now = activated + PERIOD - OVERLAP
    done = services.keys.rotate_if_due(actor="cron")
    published = set(done["rotated"])
    assert len(published) == 2 and published <= _published(services)
    assert services.keys.rotate_if_due(actor="cron")["rotated"] == []  # the next keys exist
    clock.now = activated + PERIOD  # the period ends: the next keys sign from now
    done = services.keys.rotate_if_due(actor="cron")
    assert {line for line in done["advanced"] if line.endswith(" active")} == {
        f"{kid} active" for kid in published}
    assert {_active(services, alg).kid for alg in ("RS256", "ES256")} == published
    assert done["rotated"] == []  # the new active keys start a new period


def test_retire_an_active_key_needs_a_next_key(services):
    active = _active(services)
    before = _by_kid(services)
    with pytest.raises(Conflict, match="rotate first"):
        services.keys.retire(active.kid, actor="cli")
    assert {k: v.state for k, v in _by_kid(services).items()} == {
        k: v.state for k, v in before.items()}


def test_retire_an_active_key_hands_signing_to_the_next_key_at_once(services, clock):
    active = _active(services)
    [upcoming] = services.keys.rotate(actor="cli", algs=["ES256"])
    retired = services.keys.retire(active.kid, actor="staff:bob")
    assert retired.state == "retired"
    assert as_aware(retired.remove_after) == to_datetime(clock() + MAX_TTL)
    assert services.keys.ring().signer("ES256").kid == upcoming.kid
    assert active.kid in _published(services)
    with pytest.raises(Conflict, match="already retired"):
        services.keys.retire(active.kid, actor="cli")


def test_retiring_a_next_key_removes_it(services):
    [upcoming] = services.keys.rotate(actor="cli", algs=["RS256"])
    row = services.keys.retire(upcoming.kid, actor="cli")
    assert row.state == "removed" and row.private_enc is None
    assert upcoming.kid not in _published(services)
    with pytest.raises(Conflict, match="removed"):
        services.keys.retire(upcoming.kid, actor="cli")


def test_unknown_kid(services):
    with pytest.raises(NotFound):
        services.keys.retire("no-such-kid", actor="cli")
    with pytest.raises(NotFound):
        services.keys.revoke("no-such-kid", actor="cli")


def test_a_kid_never_starts_with_a_dash(monkeypatch):
    """``idp keys revoke KID`` must work for every kid: a leading '-' would read as an option,
    so such a key (1 in 64) is generated again."""
    from joserfc.jwk import ECKey

    from idp.keys import material

    made: list[object] = []
    real_thumbprint = ECKey.thumbprint

    def thumbprint(self):  # the first key made gets a dash-first thumbprint
        if not made:
            made.append(self)
        return "-" + real_thumbprint(self)[1:] if self is made[0] else real_thumbprint(self)

    monkeypatch.setattr(ECKey, "thumbprint", thumbprint)
    new = material.generate("ES256")
    assert not new.kid.startswith("-") and new.private is not made[0]
