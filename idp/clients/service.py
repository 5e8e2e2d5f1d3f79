"""Client registry service: register relying parties, look them up (cached), check secrets.

Client secrets are generated here (256 random bits) and stored as a SHA-256 digest compared in
constant time — never with argon2 (DESIGN.md §4: that would cap the token endpoint).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clients.channels import CHANNEL_NAMES, ChannelPolicies
from idp.clients.redirects import check_redirect_uri
from idp.clients.sectors import Fetch, fetch_document, subject_settings
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import Conflict, NotFound, ValidationError
from idp.store.models import Client

KNOWN_SCOPES = ("openid", "profile", "phone", "email", "address", "offline_access")


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _origin(uri: str) -> tuple[str, str, int | None]:
    parts = urlsplit(uri)
    return parts.scheme, parts.hostname or "", parts.port


def _check_frontchannel_origin(uri: str | None, redirect_uris: Iterable[str]) -> None:
    """Front-Channel Logout 1.0 §2: the scheme, host and port of ``frontchannel_logout_uri``
    must be those of a registered redirect URI (the IdP frames only the client's own site)."""
    if uri is not None and _origin(uri) not in {_origin(r) for r in redirect_uris}:
        raise ValidationError("the front-channel logout URI must have the scheme, host and port "
                              "of one of the client's redirect URIs",
                              code="client.frontchannel_logout_uri")


@dataclass(frozen=True)
class NewClient:
    name: str
    channel: str
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    frontchannel_logout_uri: str | None = None
    scopes: tuple[str, ...] = ()
    skip_consent: bool = False
    id_token_signed_response_alg: str | None = None  # None: settings keys.id_token_alg
    client_id: str | None = None
    subject_type: str | None = None  # "public" (default) or "pairwise" (idp.clients.sectors)
    sector_identifier_uri: str | None = None


@dataclass(frozen=True)
class ClientRecord:
    """An immutable snapshot of a client, safe to cache and share between threads."""

    client_id: str
    name: str
    channel: str
    client_type: str
    token_endpoint_auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    backchannel_logout_uri: str | None
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    id_token_signed_response_alg: str
    skip_consent: bool
    status: str
    secret_digest: str | None = field(repr=False, default=None)
    frontchannel_logout_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_public(self) -> bool:
        return self.client_type == "public"

    def check_secret(self, secret: str, now: float | None = None) -> bool:
        """The current secret — or, until its grace period ends, the one it replaced
        (``extra["previous_secret"]``, :meth:`ClientService.rotate_secret`)."""
        if not self.secret_digest or not secret:
            return False
        digest = secret_digest(secret)
        if hmac.compare_digest(self.secret_digest, digest):
            return True
        previous = self.extra.get("previous_secret") or {}
        until = float(previous.get("until", 0))
        return bool(previous.get("digest")) and (time.time() if now is None else now) < until \
            and hmac.compare_digest(str(previous["digest"]), digest)

    @classmethod
    def from_row(cls, row: Client) -> ClientRecord:
        return cls(
            client_id=row.client_id, name=row.name, channel=row.channel,
            client_type=row.client_type, token_endpoint_auth_method=row.token_endpoint_auth_method,
            redirect_uris=tuple(row.redirect_uris or ()),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
            backchannel_logout_uri=row.backchannel_logout_uri,
            grant_types=tuple(row.grant_types or ()), scopes=tuple(row.scopes or ()),
            id_token_signed_response_alg=row.id_token_signed_response_alg,
            skip_consent=row.skip_consent, status=row.status,
            secret_digest=row.secret_digest, extra=dict(row.extra or {}),
            frontchannel_logout_uri=row.frontchannel_logout_uri,
        )


class ClientService:
    def __init__(self, sessions: sessionmaker[Session], *, audit: AuditTrail,
                 policies: ChannelPolicies,
                 clock: Clock = system_clock, production: bool = False,
                 cache_ttl: float = 10.0,
                 default_id_token_alg: str = "RS256",  # noqa: S107 — an alg name
                 fetch_sector: Fetch = fetch_document) -> None:
        self._default_id_token_alg = default_id_token_alg
        self._fetch_sector = fetch_sector
        self._policies = policies
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self._production = production
        self._cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, ClientRecord | None]] = {}
        self._lock = threading.Lock()

    def create(self, new: NewClient, *, actor: str = "cli") -> tuple[ClientRecord, str | None]:
        """Register a client. Returns the record and, for confidential clients, the secret
        (shown once; only its digest is stored)."""
        profile = self._policies.profile(new.channel)
        if profile is None:
            raise ValidationError(f"unknown channel {new.channel!r}; use one of "
                                  f"{', '.join(CHANNEL_NAMES)}", code="client.channel")
        name = new.name.strip()
        if not name or len(name) > 200:
            raise ValidationError("client name must be 1–200 characters", code="client.name")
        redirects = tuple(dict.fromkeys(
            check_redirect_uri(u, native=profile.native_redirects,
                               allow_http_loopback=not self._production)
            for u in new.redirect_uris))
        if profile.needs_redirect_uri and not redirects:
            raise ValidationError(f"a {profile.name} client needs at least one --redirect-uri",
                                  code="client.redirect_uri")
        post_logout = tuple(check_redirect_uri(u, native=profile.native_redirects,
                                               allow_http_loopback=not self._production)
                            for u in new.post_logout_redirect_uris)
        backchannel, frontchannel = self._logout_uris(new.backchannel_logout_uri,
                                                      new.frontchannel_logout_uri)
        _check_frontchannel_origin(frontchannel, redirects)
        scopes = tuple(dict.fromkeys(new.scopes or profile.default_scopes))
        if "id_card" in scopes:
            raise ValidationError("the id_card scope is not registered with the client: staff "
                                  "allow it with `idp clients allow-id-card CLIENT_ID`",
                                  code="client.scope")
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            raise ValidationError(f"unknown scope(s): {' '.join(unknown)}", code="client.scope")
        id_token_alg = new.id_token_signed_response_alg or self._default_id_token_alg
        if id_token_alg not in ("RS256", "ES256"):
            raise ValidationError("id_token_signed_response_alg must be RS256 or ES256",
                                  code="client.alg")
        subject = subject_settings(new.subject_type, new.sector_identifier_uri, redirects,
                                   channel=profile.name, production=self._production,
                                   fetch=self._fetch_sector)
        client_id = new.client_id or f"{new.channel}-{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(32) if profile.client_type == "confidential" else None
        now = to_datetime(self._clock())
        row = Client(
            client_id=client_id, secret_digest=secret_digest(secret) if secret else None,
            name=name, channel=profile.name, client_type=profile.client_type,
            token_endpoint_auth_method=profile.auth_method, redirect_uris=list(redirects),
            post_logout_redirect_uris=list(post_logout), backchannel_logout_uri=backchannel,
            frontchannel_logout_uri=frontchannel, grant_types=list(profile.grant_types),
            response_types=["code"] if profile.needs_redirect_uri else [],
            scopes=list(scopes), id_token_signed_response_alg=id_token_alg,
            skip_consent=new.skip_consent, status="active", extra=subject,
            created_at=now, updated_at=now,
        )
        with self._sessions.begin() as session:
            if session.get(Client, client_id) is not None:
                raise Conflict(f"client {client_id} already exists", code="client.exists")
            session.add(row)
        self._audit.record(actor, "client:create:success", client_id=client_id,
                           extra={"channel": profile.name, "name": name, **subject})
        return ClientRecord.from_row(row), secret

    def _logout_uris(self, *uris: str | None) -> tuple[str | None, ...]:
        """Logout URIs are called by the IdP, never by a native app: https, or http to loopback
        outside production (the same rules as a web client's redirect URI)."""
        return tuple(check_redirect_uri(uri, native=False, allow_http_loopback=not self._production)
                     if uri else None for uri in uris)

    def set_logout_uris(self, client_id: str, *, backchannel: str | None,
                        frontchannel: str | None, actor: str = "cli") -> ClientRecord:
        """Replace the client's back- and front-channel logout URIs (``None`` clears one),
        checked as at registration."""
        backchannel, frontchannel = self._logout_uris(backchannel, frontchannel)
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            _check_frontchannel_origin(frontchannel, row.redirect_uris or ())
            row.backchannel_logout_uri = backchannel
            row.frontchannel_logout_uri = frontchannel
            row.updated_at = to_datetime(self._clock())
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        self._audit.record(actor, "client:update:success", client_id=client_id,
                           extra={"backchannel_logout_uri": backchannel,
                                  "frontchannel_logout_uri": frontchannel})
        return record

    def rotate_secret(self, client_id: str, *, grace: int,
                      actor: str = "cli") -> tuple[ClientRecord, str]:
        """A new secret for a confidential client, returned once; the old one keeps working
        for ``grace`` seconds (0: at once no more), so the client's servers can be switched
        without an outage. Only the digests are stored."""
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            if row.client_type != "confidential" or not row.secret_digest:
                raise ValidationError(f"{client_id} is a public client: it has no secret",
                                      code="client.public")
            extra = {k: v for k, v in (row.extra or {}).items() if k != "previous_secret"}
            if grace > 0:
                extra["previous_secret"] = {"digest": row.secret_digest, "until": now + grace}
            row.secret_digest = secret_digest(secret)
            row.extra = extra
            row.updated_at = to_datetime(now)
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        self._audit.record(actor, "client:secret:rotate", client_id=client_id,
                           extra={"grace": grace})
        return record, secret

    def set_status(self, client_id: str, status: str, *, actor: str = "cli") -> ClientRecord:
        """Suspend (``suspended``: no sign-ins, no tokens, introspection says inactive) or
        resume (``active``) a client; every node sees it within the cache TTL."""
        if status not in ("active", "suspended"):
            raise ValidationError("status must be active or suspended", code="client.status")
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            before, row.status = row.status, status
            row.updated_at = to_datetime(self._clock())
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        if before != status:
            self._audit.record(actor, "client:suspend:success" if status == "suspended"
                               else "client:resume:success", client_id=client_id)
        return record

    def set_id_card_allowed(self, client_id: str, allowed: bool, *,
                            actor: str = "cli") -> ClientRecord:
        """Allow (or stop allowing) the client to request the ``id_card`` scope — the citizen
        ID number in clear, still only with each citizen's consent (``extra["id_card_allowed"]``,
        read by ``idp.oidc.id_card``). Takes effect on every node within the cache TTL."""
        return self._set_permission(client_id, "id_card_allowed", allowed, actor=actor)

    def set_in_person_allowed(self, client_id: str, allowed: bool, *,
                              actor: str = "cli") -> ClientRecord:
        """Allow (or stop allowing) a counter client to attest that its clerk checked the
        citizen's physical ID card (``extra["in_person_check"]``, read by
        ``idp.oidc.device_grant``): its device sign-ins can then reach assurance level L4."""
        return self._set_permission(client_id, "in_person_check", allowed, actor=actor)

    def _set_permission(self, client_id: str, permission: str, allowed: bool, *,
                        actor: str) -> ClientRecord:
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            extra = dict(row.extra or {})
            if allowed:
                extra[permission] = True
            else:
                extra.pop(permission, None)
            row.extra = extra  # a new dict: the JSON column sees the change
            row.updated_at = to_datetime(self._clock())
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        self._audit.record(actor, "client:update:success", client_id=client_id,
                           extra={permission: allowed})
        return record

    def get(self, client_id: str) -> ClientRecord | None:
        """Look up a client; cached for a few seconds (metadata changes are rare)."""
        if not client_id or len(client_id) > 64 or not client_id.isprintable():
            return None
        now = self._clock()
        hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < self._cache_ttl:
            return hit[1]
        with self._sessions() as session:
            row = session.get(Client, client_id)
            record = ClientRecord.from_row(row) if row is not None else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (now, record)
        return record

    def list(self) -> list[ClientRecord]:
        with self._sessions() as session:
            return [ClientRecord.from_row(r)
                    for r in session.scalars(select(Client).order_by(Client.created_at))]

    def invalidate(self, client_id: str | None = None) -> None:
        with self._lock:
            if client_id is None:
                self._cache.clear()
            else:
                self._cache.pop(client_id, None)
