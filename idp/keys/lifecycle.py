"""The signing-key lifecycle (issue 6 §3): rotate, advance, rotate when due, retire, revoke.

- **rotate** publishes a ``next`` key per algorithm, ``activates_at = now + overlap``: relying
  parties that cache the JWKS for less than the overlap all hold it before it signs.
- **advance** makes what is due happen: a next key whose time has come becomes ``active`` and
  the previous active key ``retired`` with ``remove_after = now + max_token_ttl``; a retired key
  past ``remove_after`` is ``removed``. Every node may run it (the ring does, on its own, when
  a date it holds passes): the conditional UPDATEs of :mod:`idp.keys.transitions` let one act.
- **rotate_if_due** = advance, then rotate each algorithm whose active key reaches the end of
  ``rotation_period`` within the overlap — ``idp keys rotate --if-due`` from cron on every node.
- **retire** takes a key out of signing now (a next key takes over at once); a next key that
  never signed is simply removed.
- **revoke** is the emergency: out of the JWKS at once, its private key dropped, every token
  it signed revoked, and — for the active key — a replacement signs at once.

Audit tags: ``key:create``, ``key:rotate``, ``key:activate``, ``key:retire``, ``key:remove``,
``key:revoke``, ``key:import``, each with ``kid`` and ``alg``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clock import Clock, to_datetime
from idp.errors import Conflict, NotFound
from idp.keys import transitions as t
from idp.keys.material import SUPPORTED_ALGS, check_algs
from idp.store.models import SigningKey

Mint = Callable[[str, str, datetime, datetime | None], SigningKey]  # alg, state, now, activates
TokenRevoker = Callable[[str, str], int]  # kid, reason -> tokens revoked
REVOKED_REASON = "key_revoked"  # tokens.revoked_reason


@dataclass(frozen=True)
class RevokeResult:
    kid: str
    alg: str
    tokens_revoked: int
    replacement: str | None  # the kid that signs in its place (the revoked key was active)


class _Lost(Exception):
    """Another node changed the key first: roll this transaction back."""


class KeyLifecycle:
    def __init__(self, sessions: sessionmaker[Session], *, mint: Mint, timing: t.Timing,
                 clock: Clock, audit: AuditTrail | None,
                 forget: Callable[[str], None]) -> None:
        self._sessions = sessions
        self._mint = mint
        self._timing = timing
        self._clock = clock
        self._audit = audit
        self._forget = forget  # a key left for good: drop what this node holds of it
        self.revoke_tokens: TokenRevoker | None = None

    def record(self, actor: str, tag: str, row: SigningKey, **extra: Any) -> None:
        if self._audit is not None:
            values = {k: v.isoformat() if isinstance(v, datetime) else v
                      for k, v in extra.items()}
            self._audit.record(actor, tag, subject=row.kid,
                               extra={"kid": row.kid, "alg": row.alg, **values})

    def _now(self) -> datetime:
        return to_datetime(self._clock())

    def _get(self, kid: str) -> SigningKey:
        with self._sessions() as session:
            row = session.get(SigningKey, kid)
        if row is None:
            raise NotFound(f"no signing key {kid} (see `idp keys list`)")
        return row

    def _in_state(self, alg: str, state: str) -> SigningKey | None:
        with self._sessions() as session:
            return t.in_state(session, alg, state)

    # -- rotate ------------------------------------------------------------------------------
    def rotate(self, *, actor: str, algs: Sequence[str] | None = None) -> list[SigningKey]:
        """The next key of each algorithm: the one already published, or a new one."""
        return [row for row, _created in self._rotate(actor, check_algs(algs))]

    def _rotate(self, actor: str, algs: Sequence[str]) -> list[tuple[SigningKey, bool]]:
        done: list[tuple[SigningKey, bool]] = []
        for alg in algs:
            existing = self._in_state(alg, "next")
            if existing is not None:
                done.append((existing, False))
                continue
            now = self._now()
            row = self._mint(alg, "next", now, now + timedelta(seconds=self._timing.overlap))
            try:
                with self._sessions.begin() as session:
                    session.add(row)
            except IntegrityError:  # another node published one first: keep that one
                existing = self._in_state(alg, "next")
                if existing is None:
                    raise Conflict(f"the {alg} keys changed meanwhile: try again") from None
                done.append((existing, False))
                continue
            self.record(actor, "key:rotate", row, activates_at=row.activates_at)
            done.append((row, True))
        return done

    # -- advance -----------------------------------------------------------------------------
    def advance(self, *, actor: str) -> list[str]:
        """Make every due transition happen; returns what this call did (``"<kid> active"``)."""
        now = self._now()
        with self._sessions() as session:
            rows = list(session.scalars(select(SigningKey).where(
                SigningKey.state.in_(t.PUBLISHED_STATES)).order_by(SigningKey.created_at)))
        active = {r.alg: r for r in rows if r.state == "active"}
        done: list[str] = []
        for row in rows:
            if row.state == "next" and self._timing.activates(row) <= now:
                old = active.get(row.alg)
                if self._switch(row, old, now, actor):
                    done += [f"{row.kid} active"] + ([f"{old.kid} retired"] if old else [])
        for row in rows:
            if row.state == "retired" and self._timing.removes(row) <= now:
                with self._sessions.begin() as session:
                    removed = t.remove(session, row.kid, "retired", now)
                if removed:
                    self._forget(row.kid)
                    self.record(actor, "key:remove", row)
                    done.append(f"{row.kid} removed")
        return done

    def _switch(self, new: SigningKey, old: SigningKey | None, now: datetime,
                actor: str) -> bool:
        """``old`` active → retired and ``new`` next → active, in one transaction; False when
        another node did it first (nothing changed here)."""
        remove_after = now + timedelta(seconds=self._timing.max_token_ttl)
        try:
            with self._sessions.begin() as session:
                if old is not None and not t.retire(session, old.kid, now, remove_after):
                    raise _Lost
                if not t.promote(session, new.kid, now):
                    raise _Lost
        except (_Lost, IntegrityError):
            return False
        if old is not None:
            self.record(actor, "key:retire", old, remove_after=remove_after,
                        replacement=new.kid)
        self.record(actor, "key:activate", new, replaces=old.kid if old else None)
        return True

    def rotate_if_due(self, *, actor: str) -> dict[str, Any]:
        """advance(), then rotate every algorithm whose active key's period ends within the
        overlap and that has no next key yet. Safe on every node at once (cron)."""
        advanced = self.advance(actor=actor)
        now = self._now()
        due: list[str] = []
        schedule: dict[str, str] = {}
        for alg in SUPPORTED_ALGS:
            active, upcoming = self._in_state(alg, "active"), self._in_state(alg, "next")
            if upcoming is not None:
                schedule[alg] = f"{upcoming.kid} signs from " \
                                f"{self._timing.activates(upcoming).isoformat()}"
                continue
            when = self._timing.rotation_due(active) if active is not None else now
            if when <= now:
                due.append(alg)
            else:
                schedule[alg] = f"next key published from {when.isoformat()}"
        rotated = [row.kid for row, created in self._rotate(actor, due) if created]
        return {"advanced": advanced, "rotated": rotated, "schedule": schedule}

    # -- retire ------------------------------------------------------------------------------
    def retire(self, kid: str, *, actor: str) -> SigningKey:
        row = self._get(kid)
        now = self._now()
        if row.state == "active":
            upcoming = self._in_state(row.alg, "next")
            if upcoming is None:
                raise Conflict(f"rotate first: {kid} is the active {row.alg} key and no next "
                               f"{row.alg} key can take over (`idp keys rotate --alg {row.alg}`)")
            if not self._switch(upcoming, row, now, actor):
                raise Conflict(f"the {row.alg} keys changed meanwhile: look again "
                               "(`idp keys list`)")
        elif row.state == "next":  # it never signed: nothing to wait for
            with self._sessions.begin() as session:
                if not t.remove(session, kid, "next", now):
                    raise Conflict(f"{kid} changed meanwhile: look again (`idp keys list`)")
            self._forget(kid)
            self.record(actor, "key:retire", row, state="removed", never_signed=True)
        elif row.state == "retired":
            raise Conflict(f"{kid} is already retired: it leaves the JWKS after "
                           f"{self._timing.removes(row).isoformat()}")
        else:
            raise Conflict(f"{kid} is {row.state}: nothing to retire")
        return self._get(kid)

    # -- revoke ------------------------------------------------------------------------------
    def revoke(self, kid: str, *, actor: str, reason: str = "") -> RevokeResult:
        row = self._get(kid)
        if row.state not in t.PUBLISHED_STATES:
            raise Conflict(f"{kid} is already {row.state}")
        if self.revoke_tokens is None:
            raise RuntimeError("KeyService has no token revoker attached")
        now = self._now()
        upcoming = fresh = None
        if row.state == "active":  # signing must never stop: a replacement signs at once
            upcoming = self._in_state(row.alg, "next")
            if upcoming is None:
                fresh = self._mint(row.alg, "active", now, now)
                fresh.activated_at = now
        try:
            with self._sessions.begin() as session:
                if not t.revoke(session, kid, row.state, now):
                    raise _Lost
                if upcoming is not None and not t.promote(session, upcoming.kid, now):
                    raise _Lost
                if fresh is not None:
                    session.add(fresh)
        except (_Lost, IntegrityError):
            raise Conflict(f"{kid} changed meanwhile: look again (`idp keys list`)") from None
        self._forget(kid)
        tokens = self.revoke_tokens(kid, REVOKED_REASON)
        replacement = upcoming or fresh
        self.record(actor, "key:revoke", row, reason=reason[:200], was=row.state,
                    tokens_revoked=tokens, replacement=replacement.kid if replacement else None)
        if fresh is not None:
            self.record(actor, "key:create", fresh, state="active", replaces=kid)
        if replacement is not None:
            self.record(actor, "key:activate", replacement, replaces=kid)
        return RevokeResult(kid=kid, alg=row.alg, tokens_revoked=tokens,
                            replacement=replacement.kid if replacement else None)
