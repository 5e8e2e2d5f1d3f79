"""Second factor: passkeys (WebAuthn Level 2, https://www.w3.org/TR/webauthn-2/, via py_webauthn),
RFC 8176 ``amr`` ``hwk`` (proof of possession of a hardware-secured key), reaching L2.

Relying party: ``rp.id`` is the host name of the issuer, the expected origin the issuer's
``scheme://host[:port]`` (§7.1 step 9, §7.2 step 13). The WebAuthn ``user.id`` is an opaque
random handle (32 bytes) per account — never the ID number or ``sub``; ``user.name`` and
``user.displayName`` are the *masked* ID number (what the citizen sees in the passkey chooser).

Registration (§7.1): :meth:`PasskeyService.registration_options` → the browser's
``navigator.credentials.create()`` → :meth:`finish_registration`. Attestation ``none``
(we do not restrict authenticator models), resident key and user verification *preferred*,
ES256 and RS256. Whether a session may add a passkey (L2 first when the account can reach L2
another way) is decided with every other factor in ``idp.web.factors``.

Authentication (§7.2), a visible pipeline in :meth:`finish_authentication`:

1. throttle — failures count per account with wrong TOTP codes (:class:`MfaThrottle`), checked
   before anything else;
2. challenge — taken atomically from the ephemeral store (``consume``): single use, 300 s, bound
   to the account by its key; missing → ``challenge``;
3. credential — must be one of *this* account's passkeys → else ``unknown_credential``; a
   ``userHandle`` in the response must be the account's handle;
4. signature, client data type, challenge, origin, rp id hash, user presence — py_webauthn's
   ``verify_authentication_response`` → ``bad_signature``, ``origin``, ``rp_id``, ``challenge``;
5. sign counter (§6.1.1): while the stored or the presented count is non-zero, the presented one
   must be greater → else ``sign_count`` (a possibly cloned authenticator), audited; the new
   count is written by a conditional ``UPDATE … WHERE sign_count = :seen`` (of two concurrent
   uses of one count, one wins).

Audit tags: ``mfa:passkey:register`` (``:failure``), ``mfa:passkey:verify:success|failure``
(``extra.reason`` as above, or ``malformed``), ``mfa:passkey:remove``.
"""

from __future__ import annotations

import builtins
import json
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.mfa import MfaThrottle
from idp.audit import AuditTrail
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import AuthenticationFailed, Conflict, NotFound, ValidationError
from idp.store.ephemeral import EphemeralStore
from idp.store.models import Passkey

RP_NAME = "一网通办"
CHALLENGE_TTL = 300  # seconds: the ceremony's timeout and the challenge's life
NAME_MAX = 64
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256,  # ES256
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]  # RS256
REGISTER, SIGN_IN = "register", "login"
_BAD_INPUT = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)


class StepUpRequired(AuthenticationFailed):
    """Adding a factor needs a session at L2 first (``idp.web.factors``)."""

    code = "passkey.step_up_required"


@dataclass(frozen=True)
class PasskeyInfo:
    id: int
    name: str
    created_at: float
    last_used_at: float | None
    transports: builtins.list[str]


def _reason(exc: Exception) -> str:
    """A stable audit reason for py_webauthn's message (never the message: it may quote input).
    Matched on the start only — the origin message quotes the client's origin."""
    text = str(exc).lower()
    for prefix, reason in (("client data challenge", "challenge"),
                           ("unexpected client data origin", "origin"),
                           ("unexpected rp id hash", "rp_id"),
                           ("could not verify", "bad_signature"),
                           ("user was not present", "user_presence")):
        if text.startswith(prefix):
            return reason
    return "malformed"


class PasskeyService:
    def __init__(self, sessions: sessionmaker[Session], store: EphemeralStore, *, issuer: str,
                 audit: AuditTrail, throttle: MfaThrottle,
                 clock: Clock = system_clock) -> None:
        parts = urlsplit(issuer)
        if not parts.hostname:
            raise ValueError(f"issuer {issuer!r} has no host name")
        self.rp_id = parts.hostname
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._sessions = sessions
        self._store = store
        self._audit = audit
        self._throttle = throttle
        self._clock = clock

    # -- reading ------------------------------------------------------------------------------
    def _rows(self, session: Session, account_id: str) -> builtins.list[Passkey]:
        return builtins.list(session.scalars(
            select(Passkey).where(Passkey.account_id == account_id).order_by(Passkey.id)))

    def has_any(self, account_id: str) -> bool:
        with self._sessions() as session:
            return bool(session.scalar(select(func.count()).select_from(Passkey).where(
                Passkey.account_id == account_id)))

    def list(self, account_id: str) -> builtins.list[PasskeyInfo]:
        with self._sessions() as session:
            return [PasskeyInfo(id=r.id, name=r.name, created_at=r.created_at.timestamp(),
                                last_used_at=r.last_used_at.timestamp() if r.last_used_at
                                else None, transports=builtins.list(r.transports or []))
                    for r in self._rows(session, account_id)]

    # -- challenges ---------------------------------------------------------------------------
    @staticmethod
    def _challenge_key(purpose: str, account_id: str) -> str:
        return f"passkey:challenge:{purpose}:{account_id}"

    def _remember(self, purpose: str, account_id: str, challenge: bytes, **extra: str) -> None:
        self._store.put(self._challenge_key(purpose, account_id),
                        {"challenge": bytes_to_base64url(challenge), **extra}, CHALLENGE_TTL)

    def _take(self, purpose: str, account_id: str) -> dict[str, Any] | None:
        return self._store.consume(self._challenge_key(purpose, account_id))

    @staticmethod
    def _descriptors(rows: builtins.list[Passkey]) -> builtins.list[PublicKeyCredentialDescriptor]:
        found = []
        for row in rows:
            transports = [AuthenticatorTransport(t) for t in row.transports or []
                          if t in AuthenticatorTransport._value2member_map_]
            found.append(PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.credential_id),
                                                       transports=transports or None))
        return found

    # -- registration -------------------------------------------------------------------------
    def registration_options(self, account_id: str, user_name_label: str) -> dict[str, Any]:
        """``PublicKeyCredentialCreationOptions`` (JSON form) for ``navigator.credentials.create``.
        ``user_name_label``: the masked ID number (or another label), never the clear number.
        Whether the session may add a factor at all is decided before, in one place for every
        factor (``idp.web.factors.enrolment_needs_step_up``)."""
        with self._sessions() as session:
            rows = self._rows(session, account_id)
        handle = rows[0].user_handle if rows else secrets.token_bytes(32)
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=RP_NAME, user_id=handle, user_name=user_name_label,
            user_display_name=user_name_label, timeout=CHALLENGE_TTL * 1000,
            exclude_credentials=self._descriptors(rows),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            supported_pub_key_algs=ALGORITHMS)
        self._remember(REGISTER, account_id, options.challenge,
                       handle=bytes_to_base64url(handle))
        result: dict[str, Any] = json.loads(options_to_json(options))
        return result

    def _register_failed(self, account_id: str, reason: str, ip: str | None) -> NoReturn:
        self._audit.record(account_id, "mfa:passkey:register:failure", subject=account_id,
                           ip=ip, extra={"reason": reason})
        raise ValidationError("the passkey could not be registered", code=f"passkey.{reason}"
                              if reason == "challenge" else "passkey.invalid")

    def finish_registration(self, account_id: str, response_json: str | dict[str, Any],
                            name: str, *, ip: str | None = None) -> PasskeyInfo:
        """Verify the authenticator's attestation (format ``none`` or any other, unverified
        against roots) and store the credential under ``name`` (1–64 characters)."""
        label = " ".join((name or "").split())
        if not label or len(label) > NAME_MAX:
            raise ValidationError(f"the passkey needs a name of 1 to {NAME_MAX} characters",
                                  code="passkey.name")
        try:
            credential: RegistrationCredential = parse_registration_credential_json(
                response_json)
        except _BAD_INPUT:
            raise ValidationError("the passkey response is malformed",
                                  code="passkey.malformed") from None
        stored = self._take(REGISTER, account_id)
        if stored is None:
            self._register_failed(account_id, "challenge", ip)
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=base64url_to_bytes(stored["challenge"]),
                expected_rp_id=self.rp_id, expected_origin=self.origin,
                supported_pub_key_algs=ALGORITHMS)
        except _BAD_INPUT as exc:
            self._register_failed(account_id, _reason(exc), ip)
        transports = sorted({t.value for t in credential.response.transports or []})
        row = Passkey(account_id=account_id,
                      credential_id=bytes_to_base64url(verified.credential_id),
                      user_handle=base64url_to_bytes(stored["handle"]),
                      public_key=verified.credential_public_key,
                      sign_count=verified.sign_count, transports=transports,
                      aaguid=str(verified.aaguid)[:36], name=label,
                      created_at=to_datetime(self._clock()), last_used_at=None)
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                info = PasskeyInfo(id=row.id, name=row.name,
                                   created_at=row.created_at.timestamp(), last_used_at=None,
                                   transports=transports)
        except IntegrityError:
            raise Conflict("this passkey is already registered",
                           code="passkey.duplicate") from None
        self._audit.record(account_id, "mfa:passkey:register", subject=account_id, ip=ip,
                           extra={"passkey": info.id, "aaguid": row.aaguid,
                                  "user_verified": verified.user_verified})
        return info

    # -- authentication -----------------------------------------------------------------------
    def authentication_options(self, account_id: str) -> dict[str, Any]:
        """``PublicKeyCredentialRequestOptions`` (JSON form): this account's credentials only.
        :class:`NotFound` without a passkey, :class:`RateLimited` past the failure limit."""
        self._throttle.check(account_id)
        with self._sessions() as session:
            rows = self._rows(session, account_id)
        if not rows:
            raise NotFound("no passkey is registered for this account", code="passkey.none")
        options = generate_authentication_options(
            rp_id=self.rp_id, timeout=CHALLENGE_TTL * 1000,
            allow_credentials=self._descriptors(rows),
            user_verification=UserVerificationRequirement.PREFERRED)
        self._remember(SIGN_IN, account_id, options.challenge)
        result: dict[str, Any] = json.loads(options_to_json(options))
        return result

    def _failed(self, account_id: str, reason: str, ip: str | None,
                **extra: object) -> NoReturn:
        count = self._throttle.failed(account_id)
        self._audit.record(account_id, "mfa:passkey:verify:failure", subject=account_id, ip=ip,
                           extra={"reason": reason, "failures": count, **extra})
        raise AuthenticationFailed("the passkey could not be verified",
                                   code="passkey.failed")

    def finish_authentication(self, account_id: str, response_json: str | dict[str, Any], *,
                              ip: str | None = None) -> PasskeyInfo:
        """Accept an assertion of one of this account's passkeys once (see the module
        docstring); :class:`RateLimited`, or :class:`AuthenticationFailed` ``passkey.failed``."""
        self._throttle.check(account_id)
        stored = self._take(SIGN_IN, account_id)
        try:
            credential: AuthenticationCredential = parse_authentication_credential_json(
                response_json)
        except _BAD_INPUT:
            self._failed(account_id, "malformed", ip)
        if stored is None:
            self._failed(account_id, "challenge", ip)
        with self._sessions() as session:
            row = session.scalars(select(Passkey).where(
                Passkey.credential_id == credential.id,
                Passkey.account_id == account_id)).first()
            if row is not None:
                session.expunge(row)
        if row is None:
            self._failed(account_id, "unknown_credential", ip)
        handle = credential.response.user_handle
        if handle and not secrets.compare_digest(handle, row.user_handle):
            self._failed(account_id, "unknown_credential", ip, passkey=row.id)
        try:
            # The counter is checked below, after the signature: a regression is then a
            # genuine signature from a second copy of the key, not a forgery.
            verified = verify_authentication_response(
                credential=credential, expected_challenge=base64url_to_bytes(stored["challenge"]),
                expected_rp_id=self.rp_id, expected_origin=self.origin,
                credential_public_key=row.public_key, credential_current_sign_count=0)
        except _BAD_INPUT as exc:
            self._failed(account_id, _reason(exc), ip, passkey=row.id)
        seen, new = row.sign_count, verified.new_sign_count
        if (seen or new) and new <= seen:
            self._failed(account_id, "sign_count", ip, passkey=row.id, stored=seen,
                         presented=new)
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            won = session.execute(
                update(Passkey).where(Passkey.id == row.id, Passkey.sign_count == seen)
                .values(sign_count=new, last_used_at=now)
            ).rowcount  # type: ignore[attr-defined]
        if won != 1:  # used (or removed) meanwhile by another request
            self._failed(account_id, "sign_count", ip, passkey=row.id, stored=seen,
                         presented=new)
        self._throttle.succeeded(account_id)
        self._audit.record(account_id, "mfa:passkey:verify:success", subject=account_id, ip=ip,
                           extra={"passkey": row.id, "user_verified": verified.user_verified})
        return PasskeyInfo(id=row.id, name=row.name, created_at=row.created_at.timestamp(),
                           last_used_at=now.timestamp(),
                           transports=builtins.list(row.transports or []))

    # -- removal ------------------------------------------------------------------------------
    def remove(self, account_id: str, passkey_id: int, *, ip: str | None = None) -> None:
        """Delete one of this account's passkeys; :class:`NotFound` for any other id."""
        with self._sessions.begin() as session:
            gone = session.execute(delete(Passkey).where(
                Passkey.id == passkey_id, Passkey.account_id == account_id)
            ).rowcount  # type: ignore[attr-defined]
        if gone != 1:
            raise NotFound("no such passkey", code="passkey.not_found")
        self._audit.record(account_id, "mfa:passkey:remove", subject=account_id, ip=ip,
                           extra={"passkey": passkey_id})

    def remove_all(self, account_id: str, *, actor: str) -> int:
        """Staff (helpdesk, after checking the citizen in person): remove every passkey."""
        with self._sessions.begin() as session:
            gone = int(session.execute(delete(Passkey).where(Passkey.account_id == account_id)
                                       ).rowcount)  # type: ignore[attr-defined]
        if gone:
            self._audit.record(actor, "mfa:passkey:reset", subject=account_id,
                               extra={"removed": gone})
        return gone
