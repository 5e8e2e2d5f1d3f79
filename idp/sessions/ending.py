"""Ending SSO sessions: the one place that ends a session, revokes every token issued under its
``sid`` (all channels, DESIGN.md §2) and audits ``session:end:success``.

Sign-out, the citizen's account centre, a password change and (later) RP-initiated logout and
staff actions all end sessions through :class:`SessionEnding`, so none of them can forget the
token revocation, the back-channel logout fan-out (``on_end``: queue a logout token for every
client that took part, :mod:`idp.sessions.backchannel`) or the audit entry. The ended
:class:`SsoSession` is returned with the clients that took part (front-channel logout).

Collaborators are passed in explicitly (no Flask): the session store, the token service and the
audit trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from idp.errors import NotFound
from idp.sessions.service import SsoSession


class _Sessions(Protocol):
    def get(self, sid: str | None) -> SsoSession | None: ...
    def end(self, sid: str) -> SsoSession | None: ...
    def for_account(self, account_id: str) -> list[SsoSession]: ...
    def remove_client(self, session: SsoSession, client_id: str) -> SsoSession: ...


class _Tokens(Protocol):
    def revoke_sid(self, sid: str, *, reason: str = ...) -> int: ...


class _Audit(Protocol):
    def record(self, actor: str, tag: str, *, subject: str | None = ...,
               client_id: str | None = ..., ip: str | None = ...,
               extra: dict[str, Any] | None = ...) -> int: ...


def session_ref(sid: str) -> str:
    """A short opaque name for a session, for forms and pages: the sid itself is never shown,
    and the ref cannot be turned back into it."""
    return hashlib.sha256(b"sso-ref:" + sid.encode()).hexdigest()[:16]


class SessionEnding:
    def __init__(self, sso: _Sessions, tokens: _Tokens, audit: _Audit, *,
                 on_end: Callable[[SsoSession], object] | None = None,
                 on_leave: Callable[[SsoSession, str], object] | None = None) -> None:
        self._sso = sso
        self._tokens = tokens
        self._audit = audit
        self._on_end = on_end
        self._on_leave = on_leave

    def end(self, sid: str, *, by: str, actor: str | None = None, ip: str | None = None,
            client_id: str | None = None, reason: str = "logout") -> SsoSession | None:
        """End one session, revoke its tokens, audit. None when it had already ended.

        ``by`` says who ended it (``citizen``, ``staff``, ``rp``); ``actor`` defaults to the
        session's own account; ``client_id`` is the relying party that asked, when one did."""
        ended = self._sso.end(sid)
        if ended is None:
            return None
        self._tokens.revoke_sid(sid, reason=reason)
        if self._on_end is not None:
            self._on_end(ended)
        extra = {"by": by} if reason == "logout" else {"by": by, "reason": reason}
        self._audit.record(actor or ended.account_id, "session:end:success",
                           subject=ended.account_id, client_id=client_id, ip=ip, extra=extra)
        return ended

    def end_for_account(self, account_id: str, ref: str, *, ip: str | None = None
                        ) -> SsoSession:
        """The citizen ends one of their own sessions, named by :func:`session_ref`.

        Raises NotFound (and audits ``session:end:refused``) when no session of this account
        has that ref: another citizen's session is never ended from here."""
        target = next((s for s in self._sso.for_account(account_id)
                       if s.account_id == account_id and session_ref(s.sid) == ref), None)
        ended = self.end(target.sid, by="citizen", actor=account_id, ip=ip) if target else None
        if ended is None:
            self._audit.record(account_id, "session:end:refused", subject=account_id, ip=ip,
                               extra={"by": "citizen"})
            raise NotFound("no such session of this account", code="session.not_found")
        return ended

    def client_withdrawn(self, account_id: str, client_id: str) -> int:
        """The citizen withdrew the client's consent (its tokens are revoked by then): in every
        live session of the account the client took part in, it leaves (``on_leave``: its
        back-channel logout token for that ``sid``) while the sessions go on for the other
        clients. Returns how many sessions it left."""
        left = 0
        for session in self._sso.for_account(account_id):
            if session.account_id != account_id or client_id not in session.clients:
                continue
            if self._on_leave is not None:
                self._on_leave(session, client_id)
            self._sso.remove_client(session, client_id)
            left += 1
        return left

    def end_others(self, account_id: str, keep_sid: str | None, *, by: str = "citizen",
                   ip: str | None = None, reason: str = "logout") -> list[SsoSession]:
        """End every session of the account except ``keep_sid`` (the current browser's)."""
        ended = []
        for session in self._sso.for_account(account_id):
            if session.sid == keep_sid:
                continue
            done = self.end(session.sid, by=by, actor=account_id, ip=ip, reason=reason)
            if done is not None:
                ended.append(done)
        return ended
