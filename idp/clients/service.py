"""Client registry service: register relying parties, look them up (cached), check secrets;
the staff's approval of dynamic registrations (``pending`` until then), edits and deletion.

Client secrets are generated here (256 random bits) and stored as a SHA-256 digest compared in
constant time — never with argon2 (DESIGN.md §4: that would cap the token endpoint).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import AuditTrail
from idp.clients.channels import CHANNEL_NAMES, ChannelPolicies, ChannelProfile
from idp.clients.records import ClientRecord, NewClient, secret_digest
from idp.clients.redirects import check_redirect_uri
from idp.clients.sectors import Fetch, fetch_document, subject_settings
from idp.clock import Clock, system_clock, to_datetime
from idp.errors import Conflict, NotFound, ValidationError
from idp.store.models import Client

__all__ = ["KNOWN_SCOPES", "STATUSES", "ClientRecord", "ClientService", "NewClient",
           "secret_digest"]

KNOWN_SCOPES = ("openid", "profile", "phone", "email", "address", "offline_access")
STATUSES = ("pending", "active", "suspended")  # pending: registered, waiting for staff approval
_SUBJECT_KEYS = ("subject_type", "sector", "sector_identifier_uri")  # in extra (sectors.py)


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

    def create(self, new: NewClient, *, actor: str = "cli", status: str = "active",
               extra: dict[str, Any] | None = None,
               within: Callable[[Session], object] | None = None,
               ) -> tuple[ClientRecord, str | None]:
        """Register a client. Returns the record and, for confidential clients, the secret
        (shown once; only its digest is stored). ``status="pending"``: a dynamic registration
        waiting for staff approval (:meth:`approve`). ``extra`` entries are kept with the
        client; ``within(session)`` runs in the insert's transaction — if it raises, nothing
        is written."""
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}",
                                  code="client.status")
        profile, columns, subject = self._checked(new)
        client_id = new.client_id or f"{new.channel}-{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(32) if profile.client_type == "confidential" else None
        now = to_datetime(self._clock())
        row = Client(
            client_id=client_id, secret_digest=secret_digest(secret) if secret else None,
            channel=profile.name, client_type=profile.client_type,
            token_endpoint_auth_method=profile.auth_method,
            grant_types=list(profile.grant_types),
            response_types=["code"] if profile.needs_redirect_uri else [],
            skip_consent=new.skip_consent, status=status, extra={**(extra or {}), **subject},
            created_at=now, updated_at=now, **columns,
        )
        with self._sessions.begin() as session:
            if session.get(Client, client_id) is not None:
                raise Conflict(f"client {client_id} already exists", code="client.exists")
            session.add(row)
            if within is not None:
                session.flush()
                within(session)
        pending = {"status": status} if status != "active" else {}
        self._audit.record(actor, "client:create:success", client_id=client_id,
                           extra={"channel": profile.name, "name": row.name, **pending,
                                  **subject})
        return ClientRecord.from_row(row), secret

    def _checked(self, new: NewClient, *, subject: dict[str, Any] | None = None
                 ) -> tuple[ChannelProfile, dict[str, Any], dict[str, Any]]:
        """Every rule of a client's metadata, the same at registration and at each edit: the
        channel's profile, the checked column values and the subject-type ``extra`` entries
        (``subject`` given: kept as they are, the sector is not fetched again)."""
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
        if subject is None:
            subject = subject_settings(new.subject_type, new.sector_identifier_uri, redirects,
                                       channel=profile.name, production=self._production,
                                       fetch=self._fetch_sector)
        columns = {"name": name, "redirect_uris": list(redirects),
                   "post_logout_redirect_uris": list(post_logout),
                   "backchannel_logout_uri": backchannel,
                   "frontchannel_logout_uri": frontchannel, "scopes": list(scopes),
                   "id_token_signed_response_alg": id_token_alg}
        return profile, columns, subject

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
            if row.status == "pending":
                raise Conflict(f"client {client_id} waits for approval: approve it (or delete "
                               "it) first", code="client.pending")
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
        """Look up a client; cached for a few seconds (metadata changes are rare) — except a
        pending one, read afresh each time, so an approval counts at once on every node."""
        if not client_id or len(client_id) > 64 or not client_id.isprintable():
            return None
        now = self._clock()
        hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < self._cache_ttl:
            return hit[1]
        with self._sessions() as session:
            row = session.get(Client, client_id)
            record = ClientRecord.from_row(row) if row is not None else None
        if record is not None and record.status == "pending":
            return record
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (now, record)
        return record

    def list(self, status: str | None = None) -> list[ClientRecord]:
        """Every client (oldest first), or those with ``status``."""
        query = select(Client).order_by(Client.created_at)
        if status is not None:
            query = query.where(Client.status == status)
        with self._sessions() as session:
            return [ClientRecord.from_row(r) for r in session.scalars(query)]

    def approve(self, client_id: str, *, actor: str = "cli") -> ClientRecord:
        """A dynamic registration (``pending``) becomes ``active``: it may now sign citizens in
        and get tokens. Anything but a pending client is a Conflict."""
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            if row.status != "pending":
                raise Conflict(f"client {client_id} is not waiting for approval (it is "
                               f"{row.status})", code="client.not_pending")
            row.status = "active"
            row.updated_at = to_datetime(self._clock())
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        self._audit.record(actor, "client:approve:success", client_id=client_id,
                           extra={"channel": record.channel, "name": record.name})
        return record

    def update(self, client_id: str, *, actor: str = "cli", name: str | None = None,
               redirect_uris: Sequence[str] | None = None,
               post_logout_redirect_uris: Sequence[str] | None = None,
               scopes: Sequence[str] | None = None, channel: str | None = None,
               skip_consent: bool | None = None) -> ClientRecord:
        """Staff edit: the fields given change (None: unchanged), checked as at creation."""
        lists = {"redirect_uris": redirect_uris, "scopes": scopes,
                 "post_logout_redirect_uris": post_logout_redirect_uris}
        changes: dict[str, Any] = {k: tuple(v) for k, v in lists.items() if v is not None}
        changes |= {k: v for k, v in {"name": name, "channel": channel,
                                      "skip_consent": skip_consent}.items() if v is not None}
        with self._sessions() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            current = NewClient.of(ClientRecord.from_row(row))
        return self.replace(client_id, replace(current, **changes), actor=actor)

    def replace(self, client_id: str, new: NewClient, *, actor: str = "cli") -> ClientRecord:
        """Give a client the metadata ``new`` (a staff edit, or the client's own RFC 7592
        update), checked as at creation. Its status, secrets and staff permissions stay; its
        channel may change only to one of the same client type (public or confidential)."""
        with self._sessions() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            before = ClientRecord.from_row(row)
        old = NewClient.of(before)
        new = replace(new, client_id=client_id)
        same_subject = (old.redirect_uris, old.subject_type or "public",
                        old.sector_identifier_uri) == (new.redirect_uris,
                                                       new.subject_type or "public",
                                                       new.sector_identifier_uri)
        kept = {k: v for k, v in before.extra.items() if k in _SUBJECT_KEYS}
        profile, columns, subject = self._checked(new, subject=kept if same_subject else None)
        if profile.client_type != before.client_type:
            raise ValidationError(f"a {before.client_type} client cannot move to the "
                                  f"{profile.name} channel: register a new client",
                                  code="client.channel")
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            for column, value in columns.items():
                setattr(row, column, value)
            row.channel, row.skip_consent = profile.name, new.skip_consent
            row.grant_types = list(profile.grant_types)
            row.response_types = ["code"] if profile.needs_redirect_uri else []
            extra = {k: v for k, v in (row.extra or {}).items() if k not in _SUBJECT_KEYS}
            row.extra = {**extra, **subject}
            row.updated_at = to_datetime(self._clock())
            record = ClientRecord.from_row(row)
        self.invalidate(client_id)
        changed = [f.name for f in fields(NewClient)
                   if getattr(NewClient.of(record), f.name) != getattr(old, f.name)]
        self._audit.record(actor, "client:update:success", client_id=client_id,
                           extra={"changed": changed})
        return record

    def delete(self, client_id: str, *, actor: str = "cli") -> None:
        """Remove a client; its tokens, consents and queued logouts go with it (ON DELETE
        CASCADE), so its access tokens stop validating and introspect inactive at once."""
        with self._sessions.begin() as session:
            row = session.get(Client, client_id)
            if row is None:
                raise NotFound(f"no client {client_id}", code="client.not_found")
            details = {"channel": row.channel, "name": row.name, "status": row.status}
            session.delete(row)
        self.invalidate(client_id)
        self._audit.record(actor, "client:delete:success", client_id=client_id, extra=details)

    def invalidate(self, client_id: str | None = None) -> None:
        with self._lock:
            if client_id is None:
                self._cache.clear()
            else:
                self._cache.pop(client_id, None)
