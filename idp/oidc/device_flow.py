"""Device authorization state (RFC 8628 §3.1–§3.5, §6.1): plain Python, no Flask, no Authlib.

A counter terminal starts a device authorization; the citizen approves or denies it by its user
code, in a browser or in the app; the terminal polls until it can take its tokens, once. Each
authorization is a few keys in the ephemeral store (DESIGN.md §4):

* ``device:<sha256(device_code)>`` — the record: client, scope, user code, expiry, login hint,
  status and, once approved, the approver's sign-in (``sid``, ``auth_time``, ``acr``, ``amr``).
  Kept for twice its lifetime, so a terminal polling after expiry hears ``expired_token`` and a
  citizen typing an old code hears "expired", not "unknown".
* ``device:user:<sha256(user_code)>`` — the index from the normalised user code.
* ``device:decided:<digest>`` — elects the one decision: ``pending → approved | denied`` happens
  exactly once (an atomic ``add``), then the record is rewritten with ``replace``.
* ``device:poll:<digest>`` — the last poll and the current interval, apart from the record, so
  a poll never overwrites a decision.
* ``device:used:<digest>`` — left when the approved record is taken with ``consume`` (atomic:
  of any number of concurrent polls exactly one gets the tokens), so the code reads "already
  used" afterwards.

User codes are 8 characters of the RFC 8628 §6.1 base-20 alphabet (no vowels, no look-alike
digits), shown ``BCDF-GHJK``, read case-insensitively with or without dashes and spaces
(full-width forms from a Chinese input method included). Wrong guesses are limited by
:class:`idp.oidc.user_code_throttle.UserCodeThrottle`.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import asdict, dataclass, field, replace

from idp.audit import AuditTrail
from idp.clock import Clock, system_clock
from idp.errors import Conflict, IdpError, NotFound
from idp.oidc.acr import rank
from idp.oidc.user_code_throttle import UserCodeThrottle, UserCodeThrottled
from idp.sessions import SessionService, SsoSession
from idp.store.ephemeral import EphemeralStore

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5  # seconds added to the interval at each slow_down (RFC 8628 §3.5)
POLL_TOLERANCE = 1.0  # seconds of network jitter forgiven between two polls


class UnknownUserCode(NotFound):
    code = "invalid_user_code"


class ExpiredUserCode(IdpError):
    code = "expired_token"


class AlreadyDecided(Conflict):
    code = "already_decided"


class InsufficientAssurance(IdpError):
    """The approver's sign-in is below the level the terminal's channel requires (RFC 9470's
    ``insufficient_user_authentication``): step up first, then approve."""

    code = "insufficient_user_authentication"

    def __init__(self, message: str, *, required: str) -> None:
        super().__init__(message)
        self.required = required


class WrongCitizen(IdpError):
    """The terminal named another citizen (``login_hint``): only that citizen may decide."""

    code = "wrong_citizen"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_user_code() -> str:
    """A fresh user code, display form ``BCDF-GHJK``."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return display_user_code(raw)


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_user_code(raw: str | None) -> str | None:
    """``bcdf fghj``, ``BCDF-FGHJ`` or full-width ``ＢＣＤＦ－ＦＧＨＪ`` → ``BCDFFGHJ``; None if it
    cannot be a user code."""
    if not raw or len(raw) > 40:
        return None
    text = unicodedata.normalize("NFKC", raw).upper()
    text = "".join(ch for ch in text if not ch.isspace() and ch not in "-‐‑‒–—")
    if len(text) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in text):
        return None
    return text


@dataclass(frozen=True)
class DeviceAuthorization:
    """One device authorization (RFC 8628 §3.2) and, once decided, who decided it."""

    device_digest: str
    client_id: str
    channel: str
    scope: str
    user_code: str  # normalised: 8 characters, no dash
    created_at: int
    expires_at: int
    interval: int
    login_hint: bool = False  # the terminal named the citizen who may decide
    hint_account: str | None = None  # that citizen's account (None: nobody registered)
    status: str = "pending"  # pending | approved | denied
    account_id: str | None = None
    sid: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    required_acr: str = "L1"  # the channel's min_acr, or L4 for an in-person check
    in_person: bool = False  # a clerk checked the physical ID card of the hinted citizen
    clerk: str | None = None  # who checked it (the counter's staff identifier)

    @property
    def display_code(self) -> str:
        return display_user_code(self.user_code)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class DeviceFlow:
    def __init__(self, store: EphemeralStore, *, throttle: UserCodeThrottle,
                 sso: SessionService, audit: AuditTrail, ttl: int, interval: int,
                 clock: Clock = system_clock) -> None:
        self._store = store
        self._throttle = throttle
        self._sso = sso
        self._audit = audit
        self.ttl = ttl
        self.interval = interval
        self._clock = clock

    def _keep(self, record: DeviceAuthorization) -> int:
        """Seconds the keys of this authorization are still kept (its lifetime, then as long
        again to answer "expired")."""
        return max(1, int(record.expires_at + self.ttl - self._clock()))

    # -- the terminal's side (RFC 8628 §3.1, §3.4, §3.5) ------------------------------------
    def start(self, device_code: str, user_code: str, *, client_id: str, channel: str,
              scope: str, login_hint: bool, hint_account: str | None,
              required_acr: str = "L1", clerk: str | None = None) -> DeviceAuthorization:
        """Store a new authorization. ``user_code`` is used unless it is taken by a live one;
        the returned record carries the user code finally given. With ``clerk`` the terminal
        attests an in-person check of the ID card of the hinted citizen (L4)."""
        now = int(self._clock())
        digest = _digest(device_code)
        keep = 2 * self.ttl
        code = normalise_user_code(user_code) or ""
        for _ in range(8):
            if code and self._store.add(f"device:user:{_digest(code)}", {"device": digest},
                                        keep):
                break
            code = normalise_user_code(new_user_code()) or ""
        else:
            raise IdpError("could not allocate a free user code", code="device.user_code")
        record = DeviceAuthorization(
            device_digest=digest, client_id=client_id, channel=channel, scope=scope,
            user_code=code, created_at=now, expires_at=now + self.ttl, interval=self.interval,
            login_hint=login_hint, hint_account=hint_account,
            required_acr="L4" if clerk else required_acr, in_person=clerk is not None,
            clerk=clerk)
        self._store.put(f"device:{digest}", asdict(record), keep)
        return record

    def find(self, device_code: str) -> DeviceAuthorization | None:
        """The authorization of a device code; None when unknown or already handed out."""
        if not device_code or len(device_code) > 256:
            return None
        value = self._store.get(f"device:{_digest(device_code)}")
        return DeviceAuthorization(**value) if value is not None else None

    def poll_too_fast(self, record: DeviceAuthorization) -> bool:
        """Record a poll of a pending authorization. True when it came sooner than the
        interval: the interval of this device code then grows by 5 seconds (§3.5)."""
        key = f"device:poll:{record.device_digest}"
        now = self._clock()
        state = self._store.get(key) or {}
        interval = int(state.get("interval", record.interval))
        last = state.get("last")
        too_fast = last is not None and now - float(last) < interval - POLL_TOLERANCE
        if too_fast:
            interval += SLOW_DOWN_STEP
        self._store.put(key, {"last": now, "interval": interval}, self._keep(record))
        return too_fast

    def hand_out(self, record: DeviceAuthorization) -> DeviceAuthorization | None:
        """Take an approved authorization, atomically: exactly one poll gets it."""
        key = f"device:{record.device_digest}"
        keep = self._keep(record)
        value = self._store.consume(key)
        if value is None:
            return None
        taken = DeviceAuthorization(**value)
        if taken.status != "approved":  # cannot happen: only approved ones are taken
            self._store.put(key, value, keep)
            return None
        self._store.put(f"device:used:{record.device_digest}", {"client_id": taken.client_id},
                        keep)
        return taken

    # -- the citizen's side (RFC 8628 §3.3) -------------------------------------------------
    def lookup(self, raw_user_code: str, *, account_id: str, ip: str | None
               ) -> DeviceAuthorization:
        """The pending authorization this citizen may decide, by its user code. Raises
        :class:`UserCodeThrottled`, :class:`UnknownUserCode`, :class:`ExpiredUserCode`,
        :class:`AlreadyDecided` or :class:`WrongCitizen`."""
        try:
            self._throttle.check(ip, account_id)
        except UserCodeThrottled as exc:
            self._audit.record(account_id, "device:user_code:throttled", subject=account_id,
                               ip=ip, extra={"limit": exc.limit})
            raise
        code = normalise_user_code(raw_user_code)
        if code is None:  # cannot be anyone's code: tells a guesser nothing, so not counted
            raise UnknownUserCode("this is not a user code: 8 letters, like BCDF-GHJK")
        record = self._by_user_code(code)
        if record is None:
            self._throttle.failed(ip, account_id)
            raise UnknownUserCode("no sign-in is waiting for this code; check it on the "
                                  "terminal's screen")
        if record.expired(self._clock()):
            raise ExpiredUserCode("this code has expired; start again at the terminal")
        if record.status != "pending":
            raise AlreadyDecided("this code has already been used")
        if record.login_hint and record.hint_account != account_id:
            self._audit.record(account_id, "device:authorize:refused", subject=account_id,
                               client_id=record.client_id, ip=ip,
                               extra={"reason": "wrong_citizen"})
            raise WrongCitizen("this sign-in was started at the terminal for another citizen")
        return record

    def _by_user_code(self, code: str) -> DeviceAuthorization | None:
        index = self._store.get(f"device:user:{_digest(code)}")
        if index is None:
            return None
        digest = str(index["device"])
        value = self._store.get(f"device:{digest}")
        if value is not None:
            return DeviceAuthorization(**value)
        if self._store.get(f"device:used:{digest}") is not None:
            raise AlreadyDecided("this code has already been used")
        return None

    def achieved(self, record: DeviceAuthorization, session: SsoSession
                 ) -> tuple[str | None, list[str]]:
        """The ``acr`` and ``amr`` the terminal's tokens get if ``session`` approves: the
        session's, or L4 with ``ipv`` added when the clerk checked this citizen's ID card (the
        approver is then the citizen the card names — :meth:`lookup` saw to that)."""
        if record.in_person and record.hint_account == session.account_id:
            return "L4", session.amr if "ipv" in session.amr else [*session.amr, "ipv"]
        return session.acr, list(session.amr)

    def assurance_gap(self, record: DeviceAuthorization, session: SsoSession) -> str | None:
        """The level the terminal's channel requires when ``session`` is below it, else None."""
        acr, _ = self.achieved(record, session)
        return record.required_acr if rank(acr) < rank(record.required_acr) else None

    def decide(self, raw_user_code: str, *, session: SsoSession, allow: bool,
               ip: str | None, via: str) -> DeviceAuthorization:
        """Approve or deny, once, as the citizen of ``session`` (their SSO session: the
        terminal's tokens carry its ``sid`` and it lists the terminal's client). Approving
        needs the channel's level (:class:`InsufficientAssurance`); denying never does."""
        record = self.lookup(raw_user_code, account_id=session.account_id, ip=ip)
        gap = self.assurance_gap(record, session) if allow else None
        if gap is not None:
            self._audit.record(session.account_id, "device:authorize:refused",
                               subject=session.account_id, client_id=record.client_id, ip=ip,
                               extra={"reason": "insufficient_acr", "required": gap,
                                      "acr": session.acr})
            raise InsufficientAssurance(
                f"this terminal requires assurance level {gap}; this sign-in reached "
                f"{session.acr or 'none'}", required=gap)
        key = f"device:{record.device_digest}"
        if not self._store.add(f"device:decided:{record.device_digest}",
                               {"account_id": session.account_id}, self._keep(record)):
            raise AlreadyDecided("this code has already been used")
        acr, amr = self.achieved(record, session)
        decided = replace(record, status="approved" if allow else "denied",
                          account_id=session.account_id, sid=session.sid,
                          auth_time=session.auth_time, acr=acr, amr=amr)
        if not self._store.replace(key, asdict(decided)):
            raise ExpiredUserCode("this code has expired; start again at the terminal")
        if allow:
            self._sso.add_client(session, record.client_id, record.channel)
        self._audit.record(session.account_id,
                           "device:authorize:success" if allow else "device:authorize:denied",
                           subject=session.account_id, client_id=record.client_id, ip=ip,
                           extra={"via": via, "scope": record.scope, "acr": acr})
        if allow and record.in_person:
            self._audit.record(record.clerk or "clerk", "identity:in_person:verified",
                               subject=session.account_id, client_id=record.client_id, ip=ip,
                               extra={"clerk": record.clerk, "acr": acr})
        return decided

    def expires_in(self, record: DeviceAuthorization) -> int:
        return max(0, int(record.expires_at - self._clock()))
