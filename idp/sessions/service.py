"""SSO sessions, kept in the ephemeral store so they survive an IdP restart and are shared by
every node. The browser holds only the ``sid`` (in the signed session cookie); ending a session
here ends it everywhere at once.

A session records the account, when and how the citizen authenticated (``auth_time``, ``amr``,
``acr``) and every client that took tokens under it, with its channel.

Limits (``[session]``; docs/architecture.md, "Session limits"):

* **The browser's sign-in.** A browser is signed in to its session while it was active within
  ``idle_ttl`` (``last_seen``, written at most once a minute by :meth:`SessionService.touch`)
  and signed in less than ``absolute_ttl`` ago (``browser_since``: the password sign-in, or the
  scan-to-login join). Only the browser that signed in last holds the session's ``browser``
  nonce (kept beside the ``sid`` in its cookie): a browser that joins the app's session by
  scanning does not bring back another one that had idled out. A browser signing out this way
  ends nothing: the channels keep their tokens, each until its own limits
  (``[channels.*]``, enforced by :class:`idp.tokens.TokenService`).
* **The record** stays in the store while the browser may be signed in or any channel that took
  part may still hold live tokens under the ``sid`` (``channels_until``: each client that joins
  pushes it to its channel's ``session_absolute``, or with no limit its longest token lifetime,
  from now), so that ending the session later still finds every client to revoke and notify.
  :meth:`SessionService.for_account` lists only sessions that are still live in one of these
  two ways.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from idp.clock import Clock, system_clock
from idp.config.settings import ChannelsSettings
from idp.store.ephemeral import EphemeralStore

TOUCH_EVERY = 60  # seconds: the browser's activity is written at most this often


@dataclass(frozen=True)
class SsoSession:
    sid: str
    account_id: str
    auth_time: int
    created_at: int
    amr: list[str] = field(default_factory=list)
    acr: str | None = None
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> channel
    user_agent: str | None = None
    auth_seq: int = 1  # bumped at every (re-)authentication in this session
    last_seen: int = 0  # the browser's last activity (0: created_at)
    browser: str = ""  # nonce of the browser signed in to this session ("": any, old records)
    browser_since: int = 0  # when that browser signed in (0: created_at)
    channels_until: int = 0  # until when the channels' tokens under this sid may live

    def __post_init__(self) -> None:
        if not self.last_seen:
            object.__setattr__(self, "last_seen", self.created_at)
        if not self.browser_since:
            object.__setattr__(self, "browser_since", self.created_at)

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> SsoSession:
        """A session from its stored form; keys it does not know are ignored, missing ones
        take their defaults (records written by an older or newer version)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})

    def to_value(self) -> dict[str, Any]:
        return asdict(self)


class SessionService:
    def __init__(self, store: EphemeralStore, *, absolute_ttl: int, idle_ttl: int | None = None,
                 channels: ChannelsSettings | None = None, join_slack: int = 600,
                 clock: Clock = system_clock) -> None:
        """``channels``: the channel policies, for how long a joining client's tokens may
        live; ``join_slack``: how long after joining a client may still get its first tokens
        (a code is redeemed, a device code polled, within it)."""
        self._store = store
        self._ttl = absolute_ttl
        self._idle = idle_ttl if idle_ttl is not None else absolute_ttl
        self._channels = channels
        self._slack = join_slack
        self._clock = clock

    @staticmethod
    def _key(sid: str) -> str:
        return f"sso:{sid}"

    def _now(self) -> int:
        return int(self._clock())

    def start(self, account_id: str, *, amr: list[str], acr: str | None,
              user_agent: str | None = None) -> SsoSession:
        now = self._now()
        session = SsoSession(sid=secrets.token_urlsafe(24), account_id=account_id,
                             auth_time=now, created_at=now, amr=list(amr), acr=acr,
                             user_agent=(user_agent or "")[:200] or None, last_seen=now,
                             browser=secrets.token_urlsafe(12), browser_since=now)
        self._store.put(self._key(session.sid), session.to_value(), self._ttl)
        self._index(session, self._ttl)
        return session

    def reauthenticated(self, session: SsoSession, *, amr: list[str],
                        acr: str | None) -> SsoSession:
        """The citizen authenticated again in the same session (prompt=login, max_age)."""
        now = self._now()
        updated = replace(session, auth_time=now, amr=list(amr), acr=acr,
                          auth_seq=session.auth_seq + 1, last_seen=now)
        if not self._store.replace(self._key(session.sid), updated.to_value()):
            return self.start(session.account_id, amr=amr, acr=acr,
                              user_agent=session.user_agent)
        return updated

    def stepped_up(self, session: SsoSession, *, amr: str, acr: str) -> SsoSession | None:
        """The citizen presented one more factor in this session (step-up, e.g. a TOTP code
        after the password): ``amr`` is added to the earlier methods, ``acr`` raised. It is an
        authentication event, so ``auth_time`` moves to now (OIDC Core §2: the time of the
        authentication that reached this level). None when the session has ended."""
        now = self._now()
        updated = replace(session, auth_time=now, acr=acr,
                          amr=session.amr if amr in session.amr else [*session.amr, amr],
                          auth_seq=session.auth_seq + 1, last_seen=now)
        return updated if self._store.replace(self._key(session.sid), updated.to_value()) \
            else None

    def get(self, sid: str | None) -> SsoSession | None:
        if not sid or len(sid) > 64:
            return None
        value = self._store.get(self._key(sid))
        if value is None:
            return None
        return SsoSession.from_value(value)

    # -- the browser ------------------------------------------------------------------------
    def browser_signed_in(self, session: SsoSession) -> bool:
        """Is the session's browser still signed in (``idle_ttl``, ``absolute_ttl``)?"""
        now = self._now()
        return now - session.last_seen <= self._idle and \
            now - session.browser_since <= self._ttl

    def browser_session(self, sid: str, browser: str) -> SsoSession | None:
        """The session of a browser that presents ``sid`` and ``browser`` (its cookie), marked
        active; None when the browser is no longer signed in to it."""
        session = self.get(sid)
        if session is None or not hmac.compare_digest(session.browser.encode(), browser.encode()) \
                or not self.browser_signed_in(session):
            return None
        return self.touch(session)

    def touch(self, session: SsoSession) -> SsoSession | None:
        """Record the browser's activity (at most once every :data:`TOUCH_EVERY` seconds).
        None when the session has ended."""
        now = self._now()
        if now - session.last_seen < TOUCH_EVERY:
            return session
        updated = replace(session, last_seen=now)
        return updated if self._store.replace(self._key(session.sid), updated.to_value()) \
            else None

    def join_browser(self, session: SsoSession, *, amr: str) -> SsoSession | None:
        """A browser joins the session (scan-to-login: the app approved it), adding ``amr``
        (RFC 8176; the earlier methods and ``auth_time`` stay: no credential was presented
        again). The joining browser becomes the session's browser, signed in from now. None
        when the session has ended."""
        now = self._now()
        updated = replace(session, amr=session.amr if amr in session.amr else
                          [*session.amr, amr], last_seen=now,
                          browser=secrets.token_urlsafe(12), browser_since=now)
        return updated if self._save(updated) else None

    # -- the channels -----------------------------------------------------------------------
    def _channel_window(self, channel: str) -> int:
        """How long the tokens of a client of ``channel`` that joins now may live."""
        policy = self._channels.get(channel) if self._channels is not None else None
        if policy is None:
            return 0
        if policy.session_absolute > 0:
            return policy.session_absolute
        return max(policy.refresh_token_ttl, policy.access_token_ttl)

    def add_client(self, session: SsoSession, client_id: str, channel: str) -> SsoSession:
        """Record a client taking tokens under this session (again: with no session limit
        for its channel, at every refresh), keeping the record for as long as they may live."""
        until = self._now() + self._channel_window(channel) + self._slack
        if session.clients.get(client_id) == channel and until <= session.channels_until:
            return session
        updated = replace(session, clients={**session.clients, client_id: channel},
                          channels_until=max(session.channels_until, until))
        self._save(updated)
        return updated

    def remove_client(self, session: SsoSession, client_id: str) -> SsoSession:
        """The client no longer takes part in this session (consent withdrawn): a later end of
        the session does not tell it again, unless it signs in anew."""
        if client_id not in session.clients:
            return session
        updated = replace(session, clients={c: ch for c, ch in session.clients.items()
                                            if c != client_id})
        self._save(updated)
        return updated

    # -- the record -------------------------------------------------------------------------
    def _save(self, updated: SsoSession) -> bool:
        """Write an existing session back and push its expiry out to what it now needs:
        the browser's absolute limit or the channels' tokens, whichever is later."""
        key = self._key(updated.sid)
        if not self._store.replace(key, updated.to_value()):
            return False
        end = max(updated.browser_since + self._ttl, updated.channels_until)
        ttl = max(1, end - self._now())
        if self._store.expire(key, ttl):
            self._index(updated, ttl)
        return True

    def _index(self, session: SsoSession, ttl: int) -> None:
        """List the sid under its account for at least ``ttl`` seconds (the whole set shares
        one expiry, which must cover its longest-lived session)."""
        key = f"sso:account:{session.account_id}"
        self._store.set_add(key, session.sid, max(ttl, self._store.ttl(key) or 0))

    def live(self, session: SsoSession) -> bool:
        """Signed in in its browser, or some channel's tokens under it may still be live."""
        return self.browser_signed_in(session) or self._now() < session.channels_until

    def end(self, sid: str) -> SsoSession | None:
        """End the session; returns what it was (for logout fan-out), None if already gone."""
        value = self._store.consume(self._key(sid))
        if value is None:
            return None
        session = SsoSession.from_value(value)
        self._store.set_remove(f"sso:account:{session.account_id}", sid)
        return session

    def for_account(self, account_id: str) -> list[SsoSession]:
        """The account's live sessions (:meth:`live`), oldest first."""
        sessions = []
        for sid in self._store.set_members(f"sso:account:{account_id}"):
            found = self.get(sid)
            if found is None:
                self._store.set_remove(f"sso:account:{account_id}", sid)
            elif self.live(found):
                sessions.append(found)
        return sorted(sessions, key=lambda s: s.created_at)
