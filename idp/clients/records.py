"""A client's metadata as registered (:class:`NewClient`) and as stored (:class:`ClientRecord`,
an immutable snapshot safe to cache and share between threads), and the SHA-256 digest its
secrets are kept as (DESIGN.md §4)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from idp.store.models import Client


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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

    @classmethod
    def of(cls, record: ClientRecord) -> NewClient:
        """A registered client's metadata, as it would be registered again."""
        return cls(
            name=record.name, channel=record.channel, redirect_uris=record.redirect_uris,
            post_logout_redirect_uris=record.post_logout_redirect_uris,
            backchannel_logout_uri=record.backchannel_logout_uri,
            frontchannel_logout_uri=record.frontchannel_logout_uri, scopes=record.scopes,
            skip_consent=record.skip_consent,
            id_token_signed_response_alg=record.id_token_signed_response_alg,
            client_id=record.client_id, subject_type=record.extra.get("subject_type"),
            sector_identifier_uri=record.extra.get("sector_identifier_uri"))


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
