"""SQLAlchemy models of the durable store (DESIGN.md §4).

Citizen ID numbers appear only as AES-256-GCM ciphertext, an HMAC-SHA256 blind index (the unique
key) and the masked display form. Client secrets are SHA-256 digests; passwords argon2id hashes;
refresh tokens and access-token ids are stored as digests too. Schema changes go through Alembic
(``idp/store/migrations``).

Citizens, clients and what they are issued live here; the security staff's side (signing keys,
staff accounts and their tokens, initial access tokens, the audit trail) in
:mod:`idp.store.security_models`, re-exported below so every table is importable from here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.store.base import Base


class Account(Base):
    """A citizen's account, bound to exactly one citizen ID number."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the stable public `sub`
    id_number_bidx: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_key: Mapped[str] = mapped_column(String(40), index=True)  # data key id (re-keying)
    id_number_masked: Mapped[str] = mapped_column(String(32))
    id_kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    gender: Mapped[str] = mapped_column(String(8))
    birthdate: Mapped[date | None] = mapped_column(Date, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    assurance: Mapped[str] = mapped_column(String(8), default="L2")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RegistryEntry(Base):
    """The local population registry (stand-in for 人口库/CTID): blind index → real name."""

    __tablename__ = "registry_entries"

    id_number_bidx: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Client(Base):
    """A relying party: department portal, app, mini-program, counter terminal or service."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    client_type: Mapped[str] = mapped_column(String(16))  # confidential | public
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    skip_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """What a citizen allowed a client to read; one row per citizen × client."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delegation(Base):
    """A citizen's authorisation for another citizen to act for them (代办, RFC 8693 §4.1).

    At most one open (not revoked) row per citizen × agent: the partial unique index makes a
    concurrent second grant fail. An expired row is closed (``revoked_at``) before a new grant.
    """

    __tablename__ = "delegations"
    __table_args__ = (
        Index("ux_delegations_open_pair", "citizen_id", "agent_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
        Index("ix_delegations_agent", "agent_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MfaFactor(Base):
    """A citizen's second factor (issue 5 §2); today only ``type = "totp"`` (RFC 6238).

    ``secret_enc`` is the TOTP secret sealed with the identity vault (AES-256-GCM, associated
    data ``mfa:totp:<account id>``), never clear. ``confirmed_at`` is NULL until the citizen
    entered a first code; ``last_used_step`` is the RFC 6238 time step of the last accepted
    code (replay guard: a code of that step or earlier is refused).
    """

    __tablename__ = "mfa_factors"
    __table_args__ = (UniqueConstraint("account_id", "type"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_step: Mapped[int] = mapped_column(BigInteger, default=0)


class RecoveryCode(Base):
    """A single-use recovery code, stored as the SHA-256 digest of ``account id : code``
    (the codes are 80 random bits: see :mod:`idp.accounts.mfa`); ``used_at`` set on use."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("account_id", "code_digest"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Passkey(Base):
    """A WebAuthn credential (passkey) registered as a second factor (``amr`` ``hwk``,
    :mod:`idp.accounts.passkeys`). Only the public key is held: the private key never leaves the
    authenticator. ``credential_id`` is the base64url credential id (unique across accounts);
    ``user_handle`` is the opaque random WebAuthn user id of the account (the same for all its
    passkeys; never the ID number or ``sub``); ``sign_count`` is the authenticator's signature
    counter as last seen (a regression is refused as a possible clone)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON)
    aaguid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Token(Base):
    """One issuance: a JWT access token (by ``jti``) and optionally a refresh token (by digest).

    ``family_id`` ties together every rotation of one refresh token (reuse detection revokes
    the family); ``code_digest`` ties tokens to the authorization code that issued them (a
    replayed code revokes them); ``sid`` ties them to the SSO session (logout everywhere).
    ``session_expires_at`` is the channel's absolute session limit (``session_absolute``), set
    at the family's first issuance and kept by every rotation; NULL = none.
    """

    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_family", "family_id"),
        Index("ix_tokens_sid", "sid"),
        Index("ix_tokens_code", "code_digest"),
        Index("ix_tokens_account", "account_id"),
        Index("ix_tokens_kid", "kid"),
        Index("ix_tokens_purge_after", "purge_after"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    access_jti: Mapped[str] = mapped_column(String(64), unique=True)
    kid: Mapped[str | None] = mapped_column(String(64), nullable=True)  # signed the access token
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    family_id: Mapped[str] = mapped_column(String(64))
    code_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acr: Mapped[str | None] = mapped_column(String(16), nullable=True)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    access_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    refresh_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    session_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # When neither token of this issuance can be used any more (the later of the two expiries):
    # `idp tokens purge` deletes the row some grace after it (migration 0008).
    purge_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LogoutDelivery(Base):
    """One back-channel logout token to deliver: one per client per ended ``sid``.

    The durable queue of :mod:`idp.sessions.backchannel`: written before the sign-out answers, so
    an IdP restart loses none. ``jti`` stays the same across retries (the client's replay check
    sees one logout); ``claimed_until`` is a worker's lease on the row while it posts.
    ``status``: pending | delivered | rejected (the client answered 4xx) | failed (gave up).
    """

    __tablename__ = "logout_deliveries"
    __table_args__ = (
        UniqueConstraint("client_id", "sid"),
        Index("ix_logout_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    sid: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str] = mapped_column(String(128))
    uri: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


# The security staff's tables, importable from here like every other (and registered on Base).
from idp.store.security_models import (  # noqa: E402
    AuditEvent,
    AuditHead,
    InitialAccessToken,
    SigningKey,
    StaffAccount,
    StaffApiToken,
)

__all__ = [
    "Account", "AuditEvent", "AuditHead", "Base", "Client", "Consent", "Delegation",
    "InitialAccessToken", "LogoutDelivery", "MfaFactor", "Passkey", "RecoveryCode",
    "RegistryEntry", "SigningKey", "StaffAccount", "StaffApiToken", "Token",
]
