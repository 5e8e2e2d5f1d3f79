"""The key service: the one door to signing keys for the app, the CLI and the staff console.

Keys live in the ``signing_keys`` table — metadata, public JWK and the private JWK sealed with
the wrapping key (:mod:`idp.keys.wrapping`) — so every node signs with the same key and serves
the same JWKS. States and transitions: :mod:`idp.keys.lifecycle` (issue 6 §3).

:meth:`KeyService.ring` is the per-process snapshot used on every signing and verification. It
is rebuilt when another process changed a key (a one-row-per-key query at most once per
``check_interval`` seconds), when a date it holds passes (it first runs :meth:`advance`, so
nodes switch keys on time without cron), and at least every ``max_age`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import KeyMaterialError
from idp.keys import files, transitions
from idp.keys.keyring import KeyRing
from idp.keys.lifecycle import REVOKED_REASON, KeyLifecycle, RevokeResult, TokenRevoker
from idp.keys.loader import RingLoader
from idp.keys.material import SUPPORTED_ALGS, generate, private_bytes
from idp.keys.transitions import PUBLISHED_STATES, Timing
from idp.keys.wrapping import KeyWrapper, create_wrap_key, read_wrap_key, wrap_key_exists
from idp.store.models import SigningKey

__all__ = ["KeyService", "PUBLISHED_STATES", "SUPPORTED_ALGS", "RevokeResult"]

log = logging.getLogger(__name__)


class KeyService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys_dir: Path,
        *,
        audit: AuditTrail | None = None,
        clock: Clock = system_clock,
        overlap: int = Timing.overlap,
        rotation_period: int = Timing.rotation_period,
        max_token_ttl: int = Timing.max_token_ttl,
        create_wrap_key: bool = False,
        max_age: float = 30.0,
        check_interval: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._keys_dir = keys_dir
        self._clock = clock
        self._create_wrap_key = create_wrap_key  # only `idp init` makes a missing wrap key
        self._max_age = max_age
        self._check_interval = check_interval
        self._timing = Timing(overlap=overlap, rotation_period=rotation_period,
                              max_token_ttl=max_token_ttl)
        self._wrap: KeyWrapper | None = None
        self._loader = RingLoader(sessions, keys_dir, wrapper=self._wrapper,
                                  timing=self._timing)
        self._life = KeyLifecycle(sessions, mint=self._mint, timing=self._timing, clock=clock,
                                  audit=audit, forget=self._forget)
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._checked_at = 0.0

    def attach_token_revoker(self, revoke: TokenRevoker) -> None:
        """What :meth:`revoke` calls to revoke the tokens a key signed
        (``TokenService.revoke_by_kid``; the token service needs this service first)."""
        self._life.revoke_tokens = revoke

    # -- the lifecycle (idp.keys.lifecycle); each change is visible here at once ---------------
    def rotate(self, *, actor: str, algs: Sequence[str] | None = None) -> list[SigningKey]:
        try:
            return self._life.rotate(actor=actor, algs=algs)
        finally:
            self.invalidate()

    def advance(self, *, actor: str) -> list[str]:
        try:
            return self._life.advance(actor=actor)
        finally:
            self.invalidate()

    def rotate_if_due(self, *, actor: str) -> dict[str, Any]:
        try:
            return self._life.rotate_if_due(actor=actor)
        finally:
            self.invalidate()

    def retire(self, kid: str, *, actor: str) -> SigningKey:
        try:
            return self._life.retire(kid, actor=actor)
        finally:
            self.invalidate()

    def revoke(self, kid: str, *, actor: str, reason: str = "") -> RevokeResult:
        try:
            return self._life.revoke(kid, actor=actor, reason=reason)
        finally:
            self.invalidate()

    def list_keys(self) -> list[SigningKey]:
        """Every key in every state, oldest first."""
        with self._sessions() as session:
            return list(session.scalars(
                select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)))

    # -- idp init ------------------------------------------------------------------------------
    def ensure_keys(self, *, actor: str = "system") -> list[str]:
        """The wrapping key (made when missing, unless keys sealed under another one exist),
        and an active key for each supported algorithm that has none; returns the new kids."""
        self._wrapper()
        created = []
        for alg in SUPPORTED_ALGS:
            with self._sessions() as session:
                if transitions.in_state(session, alg, "active") is not None:
                    continue
            now = to_datetime(self._clock())
            row = self._mint(alg, "active", now, now)
            row.activated_at = now
            try:
                with self._sessions.begin() as session:
                    session.add(row)
            except IntegrityError:  # another process made it at the same moment
                continue
            self._life.record(actor, "key:create", row, state="active")
            created.append(row.kid)
        self.invalidate()
        return created

    def import_legacy_keys(self, *, actor: str = "system") -> list[str]:
        """Seal into the database the private keys of keys made before migration 0007 whose
        PEM file is on this node (idempotent: a key already sealed is left alone)."""
        with self._sessions() as session:
            rows = list(session.scalars(select(SigningKey).where(
                SigningKey.private_enc.is_(None), SigningKey.state.in_(PUBLISHED_STATES))))
        imported = []
        for row in rows:
            if not files.has_private(self._keys_dir, row.kid):
                continue
            key = files.read_private(self._keys_dir, row.kid, row.alg)
            sealed = self._wrapper().seal(row.kid, private_bytes(key))
            with self._sessions.begin() as session:
                if not transitions.seal_legacy(session, row.kid, sealed):
                    continue
            self._life.record(actor, "key:import", row, source="pem")
            imported.append(row.kid)
        return imported

    def check_ready(self) -> None:
        """Raise KeyMaterialError unless the wrapping key is here and every algorithm has an
        active key this node can sign with (serve and the app refuse to start otherwise)."""
        self._wrapper()
        ring = self.ring(force=True)
        missing = [alg for alg in SUPPORTED_ALGS if ring.signer(alg) is None]
        if missing:
            raise KeyMaterialError(
                f"no active signing key for {', '.join(missing)}: run `idp init`"
            )

    # -- the ring --------------------------------------------------------------------------------
    def invalidate(self) -> None:
        with self._lock:
            self._ring = None

    def ring(self, *, force: bool = False) -> KeyRing:
        now = self._clock()
        ring = self._ring
        if not force and ring is not None and self._fresh(ring, now):
            return ring
        with self._lock:
            ring = self._ring
            if not force and ring is not None:
                if self._fresh(ring, now):
                    return ring
                if self._unchanged(ring, now):
                    self._checked_at = now
                    return ring
            fresh = self._loader.load(now)
            if _due(fresh, now) and self._advance_quietly():
                fresh = self._loader.load(now)
            self._sweep(ring, fresh)
            self._ring, self._checked_at = fresh, now
            return fresh

    def _fresh(self, ring: KeyRing, now: float) -> bool:
        return now - self._checked_at < self._check_interval and not _due(ring, now) \
            and now - ring.loaded_at < self._max_age

    def _unchanged(self, ring: KeyRing, now: float) -> bool:
        return not _due(ring, now) and now - ring.loaded_at < self._max_age \
            and self._loader.fingerprint() == ring.fingerprint

    def _advance_quietly(self) -> bool:
        """Due transitions, from the ring (any node, no cron needed). A database error here
        must not stop signing with the keys already loaded: log it, try at the next check."""
        try:
            return bool(self._life.advance(actor="system"))
        except SQLAlchemyError as exc:
            log.warning("signing keys: due transitions not applied yet (%s)",
                        type(exc).__name__)
            return False

    def _sweep(self, old: KeyRing | None, new: KeyRing) -> None:
        """A key this process signed with was revoked by another process: revoke the tokens
        it signed here since (the revoker swept before this process noticed)."""
        revoker = self._life.revoke_tokens
        if old is None or revoker is None:
            return
        states = dict(new.fingerprint)
        for handle in old.active.values():
            if states.get(handle.kid) == "revoked":
                revoker(handle.kid, REVOKED_REASON)

    # -- key material ------------------------------------------------------------------------------
    def _wrapper(self) -> KeyWrapper:
        if self._wrap is None:
            if self._create_wrap_key and not wrap_key_exists(self._keys_dir):
                if self._has_sealed_keys():
                    raise KeyMaterialError(
                        "the database holds signing keys sealed under a wrapping key this node "
                        "does not have: copy signing/wrap.key from a node that signs into "
                        f"{self._keys_dir}/signing/ (never make a new one)")
                create_wrap_key(self._keys_dir)
            self._wrap = read_wrap_key(self._keys_dir)
        return self._wrap

    def _has_sealed_keys(self) -> bool:
        with self._sessions() as session:
            return session.scalar(select(SigningKey.kid).where(
                SigningKey.private_enc.is_not(None)).limit(1)) is not None

    def _mint(self, alg: str, state: str, now: datetime,
              activates_at: datetime | None) -> SigningKey:
        """A new key row, its private part sealed (never written to a file)."""
        new = generate(alg)
        return SigningKey(kid=new.kid, alg=alg, state=state, public_jwk=new.public_jwk,
                          private_enc=self._wrapper().seal(new.kid, private_bytes(new.private)),
                          created_at=now, activates_at=activates_at)

    def _forget(self, kid: str) -> None:
        """A key left for good: drop this node's opened copy and its legacy PEM file."""
        self._loader.forget(kid)
        files.delete_private(self._keys_dir, kid)


def _due(ring: KeyRing, now: float) -> bool:
    """Has a date the ring holds passed? Compared at the database's precision (microseconds),
    as :meth:`KeyLifecycle.advance` compares it."""
    return to_datetime(now).timestamp() >= ring.next_change
