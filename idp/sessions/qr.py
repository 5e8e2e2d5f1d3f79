"""Scan-to-login (扫码登录) tickets: a browser signs in by the citizen's app approving a QR code.

The sign-in page starts a ticket and shows ``{issuer}/qr/{ticket_id}`` as a QR code; the app,
already signed in, scans it and the citizen confirms on the phone; the browser then joins the
app's SSO session (same ``sid``; RFC 8176 ``amr`` value ``mca``, multiple-channel
authentication). The life of a ticket::

    waiting ──scan──▶ scanned ──confirm──▶ confirmed ──complete (consume)──▶ gone
                              └─deny────▶ denied
    any state ── ticket_ttl passes ──▶ expired

Security properties, each enforced here and tested in ``tests/sessions/test_qr_tickets.py``:

* the ticket id is 192 random bits (``secrets.token_urlsafe(24)``);
* a ticket is **bound to the browser** that started it: the view keeps a random secret in the
  browser's session and only its SHA-256 digest is stored; reading the status and completing
  need the secret, so a ticket id seen over someone's shoulder cannot be completed elsewhere;
* exactly one app session scans a ticket (an atomic ``add`` claim), and only that session of
  that citizen may confirm or deny it;
* completion is single use: the ticket is taken with the store's atomic ``consume``.

Tickets live in the ephemeral store (Redis or the embedded store) for ``ttl`` plus a short
grace period, so a late poll reads ``expired`` rather than "unknown". State changes use
``replace``, which keeps the key's expiry. No Flask here: the views are ``idp/web/views/qr.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from idp.clock import Clock, system_clock
from idp.errors import Conflict, IdpError, NotFound
from idp.store.ephemeral import EphemeralStore

WAITING, SCANNED, CONFIRMED, DENIED, EXPIRED = (
    "waiting", "scanned", "confirmed", "denied", "expired")
GRACE = 60  # seconds a ticket is kept after it expires, to answer "expired" to a late poll
_TICKET_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class UnknownTicket(NotFound):
    """No such ticket: never issued, completed already, or expired long ago."""

    code = "unknown_ticket"


class TicketExpired(IdpError):
    code = "expired_ticket"


class WrongBrowser(IdpError):
    """The ticket was started by another browser (the binding secret does not match)."""

    code = "wrong_browser"


class WrongSession(IdpError):
    """Another app session (or another citizen) scanned this ticket."""

    code = "wrong_session"


class TicketState(Conflict):
    """The ticket is not in a state that allows this step; ``code`` says which state it is in:
    ``already_scanned``, ``not_scanned``, ``already_decided``, ``not_confirmed``, ``denied``."""


@dataclass(frozen=True)
class QrTicket:
    ticket_id: str
    binding: str  # SHA-256 hex digest of the starting browser's secret
    status: str  # waiting | scanned | confirmed | denied (expired is derived: see effective)
    created_at: int
    expires_at: int
    next_url: str
    user_agent: str | None = None  # the starting browser's User-Agent (shown on the phone)
    client_id: str | None = None  # the portal the browser's sign-in continues to, if any
    sid: str | None = None  # the app session that scanned it
    account_id: str | None = None  # the citizen of that session

    def to_value(self) -> dict[str, Any]:
        return asdict(self)

    def effective(self, now: float) -> str:
        return EXPIRED if now >= self.expires_at else self.status

    def expires_in(self, now: float) -> int:
        return max(0, math.ceil(self.expires_at - now))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprint(ticket_id: str) -> str:
    """A short, non-reversible name for a ticket in the audit trail (the id itself is a
    bearer secret for its first step)."""
    return _digest(ticket_id)[:12]


class QrLoginService:
    def __init__(self, store: EphemeralStore, *, ttl: int, clock: Clock = system_clock) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> int:
        return self._ttl

    @staticmethod
    def _key(ticket_id: str) -> str:
        return f"qr:{ticket_id}"

    # -- the browser ------------------------------------------------------------------------

    def start(self, *, browser_secret: str, next_url: str, user_agent: str | None = None,
              client_id: str | None = None) -> QrTicket:
        now = int(self._clock())
        ticket = QrTicket(ticket_id=secrets.token_urlsafe(24), binding=_digest(browser_secret),
                          status=WAITING, created_at=now, expires_at=now + self._ttl,
                          next_url=next_url, user_agent=(user_agent or "")[:300] or None,
                          client_id=client_id)
        self._store.put(self._key(ticket.ticket_id), ticket.to_value(), self._ttl + GRACE)
        return ticket

    def status(self, ticket_id: str | None, *, browser_secret: str | None) -> tuple[str, int]:
        """The ticket's status and seconds left, for the browser that started it."""
        ticket = self._load(ticket_id)
        self._check_browser(ticket, browser_secret)
        now = self._clock()
        return ticket.effective(now), ticket.expires_in(now)

    def complete(self, ticket_id: str | None, *, browser_secret: str | None) -> QrTicket:
        """Take a confirmed ticket, once: the caller signs the browser in to ``ticket.sid``."""
        ticket = self._load(ticket_id)
        self._check_browser(ticket, browser_secret)
        self._check_confirmed(ticket)
        taken = self._store.consume(self._key(ticket.ticket_id))
        if taken is None:  # a concurrent completion won
            raise UnknownTicket("the QR ticket was used already")
        ticket = QrTicket(**taken)
        self._check_confirmed(ticket)
        return ticket

    # -- the app ----------------------------------------------------------------------------

    def scan(self, ticket_id: str | None, *, sid: str, account_id: str) -> QrTicket:
        """The app session ``sid`` scanned the code: it alone may now confirm or deny."""
        ticket = self._load(ticket_id)
        self._check_live(ticket)
        if ticket.status != WAITING:
            if ticket.status == SCANNED and ticket.sid == sid and ticket.account_id == account_id:
                return ticket  # the same phone scanned twice
            raise TicketState("the QR code was scanned already", code="already_scanned")
        claim = f"qr:scan:{ticket.ticket_id}"
        ttl = max(1, ticket.expires_in(self._clock())) + GRACE
        if not self._store.add(claim, {"sid": sid, "account_id": account_id}, ttl):
            holder = self._store.get(claim) or {}
            if holder.get("sid") != sid or holder.get("account_id") != account_id:
                raise TicketState("the QR code was scanned already", code="already_scanned")
        scanned = replace(ticket, status=SCANNED, sid=sid, account_id=account_id)
        self._save(scanned)
        return scanned

    def decide(self, ticket_id: str | None, *, sid: str, account_id: str,
               allow: bool) -> QrTicket:
        """The citizen allowed or denied the sign-in on the phone that scanned the code."""
        ticket = self._load(ticket_id)
        self._check_live(ticket)
        if ticket.status == WAITING:
            raise TicketState("scan the QR code before confirming", code="not_scanned")
        if not (hmac.compare_digest(ticket.sid or "", sid)
                and ticket.account_id == account_id):
            raise WrongSession("another app session scanned this QR code")
        if ticket.status != SCANNED:
            raise TicketState("the sign-in was decided already", code="already_decided")
        decided = replace(ticket, status=CONFIRMED if allow else DENIED)
        self._save(decided)
        return decided

    # -- steps ------------------------------------------------------------------------------

    def _load(self, ticket_id: str | None) -> QrTicket:
        if not ticket_id or not _TICKET_ID.fullmatch(ticket_id):
            raise UnknownTicket("no such QR ticket")
        value = self._store.get(self._key(ticket_id))
        if value is None:
            raise UnknownTicket("no such QR ticket")
        return QrTicket(**value)

    def _save(self, ticket: QrTicket) -> None:
        if not self._store.replace(self._key(ticket.ticket_id), ticket.to_value()):
            raise UnknownTicket("the QR ticket has gone")

    def _check_live(self, ticket: QrTicket) -> None:
        if ticket.effective(self._clock()) == EXPIRED:
            raise TicketExpired("the QR code has expired")

    @staticmethod
    def _check_browser(ticket: QrTicket, browser_secret: str | None) -> None:
        if not browser_secret or not hmac.compare_digest(ticket.binding,
                                                         _digest(browser_secret)):
            raise WrongBrowser("this QR ticket belongs to another browser")

    def _check_confirmed(self, ticket: QrTicket) -> None:
        self._check_live(ticket)
        if ticket.status == DENIED:
            raise TicketState("the sign-in was denied on the phone", code="denied")
        if ticket.status != CONFIRMED or not ticket.sid or not ticket.account_id:
            raise TicketState("the sign-in is not confirmed yet", code="not_confirmed")
