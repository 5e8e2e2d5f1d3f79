"""Dynamic registration metadata (RFC 7591 §2, OpenID Connect Dynamic Client Registration 1.0
§2): what a department may ask for when it registers its own client, checked before anything
is written and turned into a :class:`~idp.clients.NewClient`.

A self-registered client gets no privilege; the security staff grant those after review
(``idp clients update|allow-id-card|allow-in-person``, the admin API):

- it waits, ``pending``, until staff approve it (``idp clients approve``);
- scopes only from :data:`REGISTRATION_SCOPES` — never ``id_card``; never ``skip_consent`` or
  the in-person permission;
- only channels the token-exchange policy gives no power over citizens' tokens (by default
  website, app and service: miniprogram back-ends receive exchanged app tokens, counter
  tokens act for citizens);
- a web client's redirect URIs are https; ``http://localhost`` is for native apps only
  (RFC 8252 §7.3), in every mode.

An update (RFC 7592 §2.2) is checked the same way against the current client: its channel
cannot change, and its scopes cannot go past the registration limits plus those staff granted.
Each refusal is an :class:`InvalidClientMetadata` (``invalid_client_metadata``) or an
:class:`InvalidRedirectUri` (``invalid_redirect_uri``), RFC 7591 §3.2.2. Unknown members are
ignored (RFC 7591 §2).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp.clients.channels import (
    AUTH_CODE,
    CHANNEL_NAMES,
    CLIENT_CREDENTIALS,
    DEVICE_CODE,
    REFRESH,
    TOKEN_EXCHANGE,
    ChannelPolicies,
    ChannelProfile,
)
from idp.clients.records import ClientRecord, NewClient, secret_digest
from idp.clients.redirects import check_redirect_uri
from idp.errors import ValidationError

REGISTRATION_SCOPES = ("openid", "profile", "phone", "email", "offline_access")
STAFF_ONLY = ("skip_consent", "id_card_allowed", "in_person_check")
KNOWN_GRANT_TYPES = (AUTH_CODE, REFRESH, CLIENT_CREDENTIALS, DEVICE_CODE, TOKEN_EXCHANGE)
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
AWAITING_APPROVAL = "this client waits for approval by the security staff"
# The key, in the client's extra, of the SHA-256 digest of its RFC 7592 registration token.
TOKEN_DIGEST = "registration_token_digest"  # noqa: S105 — a key name


class InvalidClientMetadata(ValidationError):
    code = "invalid_client_metadata"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidRedirectUri(InvalidClientMetadata):
    code = "invalid_redirect_uri"


@dataclass(frozen=True)
class ClientMetadata:
    """A checked registration request: the client to create, and the protocol choices."""

    client: NewClient
    application_type: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    token_endpoint_auth_method: str


def parse_metadata(data: object, *, policies: ChannelPolicies,
                   current: ClientRecord | None = None) -> ClientMetadata:
    """Check a registration request (or, with ``current``, an update of that client)."""
    body = _object(data)
    _no_staff_fields(body)
    kind = _string(body, "application_type")
    asked_grants = _strings(body, "grant_types")
    channel = _channel(_string(body, "channel"), policies, current, kind, asked_grants)
    profile = policies.profile(channel)
    if profile is None:  # cannot happen: _channel returns one of CHANNEL_NAMES
        raise InvalidClientMetadata("unknown channel")
    kind = _application_type(kind, profile)
    grants = _grant_types(asked_grants, profile)
    responses = _response_types(_strings(body, "response_types"), grants)
    method = _auth_method(_string(body, "token_endpoint_auth_method"), profile)
    client = NewClient(
        name=_client_name(body), channel=channel,
        redirect_uris=_redirect_uris(_strings(body, "redirect_uris"), profile, grants),
        post_logout_redirect_uris=tuple(
            _checked_uri(u, profile) for u in _strings(body, "post_logout_redirect_uris") or ()),
        backchannel_logout_uri=_string(body, "backchannel_logout_uri"),
        frontchannel_logout_uri=_string(body, "frontchannel_logout_uri"),
        scopes=_scopes(_string(body, "scope"), profile, current),
        skip_consent=current.skip_consent if current is not None else False,
        id_token_signed_response_alg=_string(body, "id_token_signed_response_alg"),
        subject_type=_string(body, "subject_type"),
        sector_identifier_uri=_string(body, "sector_identifier_uri"))
    return ClientMetadata(client, kind, grants, responses, method)


def client_information(record: ClientRecord) -> dict[str, Any]:
    """The client's registered metadata (RFC 7591 §3.2.1, RFC 7592 §3), plus our ``channel``
    and ``status`` (``pending`` until staff approve it). Never a secret or token."""
    info: dict[str, Any] = {
        "client_id": record.client_id, "client_name": record.name, "channel": record.channel,
        "status": record.status, "application_type": "native" if record.is_public else "web",
        "redirect_uris": list(record.redirect_uris), "grant_types": list(record.grant_types),
        "response_types": ["code"] if AUTH_CODE in record.grant_types else [],
        "token_endpoint_auth_method": record.token_endpoint_auth_method,
        "scope": " ".join(record.scopes),
        "subject_type": record.extra.get("subject_type", "public"),
        "id_token_signed_response_alg": record.id_token_signed_response_alg,
    }
    optional = {"post_logout_redirect_uris": list(record.post_logout_redirect_uris),
                "backchannel_logout_uri": record.backchannel_logout_uri,
                "frontchannel_logout_uri": record.frontchannel_logout_uri,
                "sector_identifier_uri": record.extra.get("sector_identifier_uri")}
    return info | {k: v for k, v in optional.items() if v}


def new_registration_token() -> tuple[str, str]:
    """A registration access token (RFC 7592 §1.1) and the digest kept in its place."""
    token = secrets.token_urlsafe(32)
    return token, secret_digest(token)


def registration_token_matches(record: ClientRecord, token: str) -> bool:
    """Is ``token`` this client's registration access token? (Constant-time comparison.)"""
    digest = record.extra.get(TOKEN_DIGEST)
    return isinstance(digest, str) and bool(token) and len(token) <= 200 and \
        hmac.compare_digest(digest, secret_digest(token))


# -- the steps of parse_metadata, in order ------------------------------------------------------


def _object(data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidClientMetadata("the body must be a JSON object of client metadata")
    return data


def _no_staff_fields(body: Mapping[str, Any]) -> None:
    for key in STAFF_ONLY:
        if body.get(key) not in (None, False):
            raise InvalidClientMetadata(f"{key} is set by the security staff, not by the client")


def _string(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidClientMetadata(f"{key} must be a string")
    return value.strip() or None


def _strings(body: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadata(f"{key} must be an array of strings")
    return tuple(dict.fromkeys(value))


def _privileged(policies: ChannelPolicies, channel: str) -> bool:
    """Does the token-exchange policy let this channel's clients receive citizens' tokens
    issued to others, or act for citizens ([token_exchange])?"""
    return policies.may_act("", channel) or any(
        policies.exchange_allowed("", source, "", channel) for source in CHANNEL_NAMES)


def _channel(asked: str | None, policies: ChannelPolicies, current: ClientRecord | None,
             kind: str | None, grants: tuple[str, ...] | None) -> str:
    if current is not None:
        if asked is not None and asked != current.channel:
            raise InvalidClientMetadata(f"the channel is set by the security staff: this "
                                        f"client stays a {current.channel} client")
        return current.channel
    if asked is None:  # inferred: a native app, a back-end service, else a website
        asked = "app" if kind == "native" else \
            "service" if grants == (CLIENT_CREDENTIALS,) else "website"
    allowed = [c for c in CHANNEL_NAMES if not _privileged(policies, c)]
    if asked not in CHANNEL_NAMES:
        raise InvalidClientMetadata(f"unknown channel; use one of {', '.join(allowed)}")
    if asked not in allowed:
        raise InvalidClientMetadata(f"a {asked} client is registered by the security staff "
                                    f"(it may use citizens' tokens issued to others); register "
                                    f"as one of {', '.join(allowed)}")
    return asked


def _application_type(kind: str | None, profile: ChannelProfile) -> str:
    if kind is None:
        return "native" if profile.native_redirects else "web"
    if kind not in ("web", "native"):
        raise InvalidClientMetadata("application_type must be web or native")
    if (kind == "native") != profile.native_redirects:
        raise InvalidClientMetadata(f"application_type {kind} does not fit a {profile.name} "
                                    "client (native apps register in the app channel)")
    return kind


def _grant_types(asked: tuple[str, ...] | None, profile: ChannelProfile) -> tuple[str, ...]:
    if asked is None:
        return profile.grant_types
    if not asked:
        raise InvalidClientMetadata("grant_types must not be empty")
    unknown = [g for g in asked if g not in KNOWN_GRANT_TYPES]
    if unknown:
        raise InvalidClientMetadata(f"unsupported grant type(s): {' '.join(unknown)}")
    refused = [g for g in asked if g not in profile.grant_types]
    if refused:
        raise InvalidClientMetadata(f"grant type(s) {' '.join(refused)} not allowed for a "
                                    f"{profile.name} client (allowed: "
                                    f"{' '.join(profile.grant_types)})")
    return asked


def _response_types(asked: tuple[str, ...] | None, grants: tuple[str, ...]) -> tuple[str, ...]:
    code_flow = AUTH_CODE in grants
    if asked is None:
        return ("code",) if code_flow else ()
    unsupported = [r for r in asked if r != "code"]
    if unsupported:
        raise InvalidClientMetadata(f"unsupported response type(s): {' '.join(unsupported)} "
                                    "(only code, the authorization code flow)")
    if ("code" in asked) != code_flow:
        raise InvalidClientMetadata("response_types and grant_types disagree: the response "
                                    "type code goes with the authorization_code grant type")
    return asked


def _auth_method(asked: str | None, profile: ChannelProfile) -> str:
    allowed = ("none",) if profile.client_type == "public" else SECRET_METHODS
    if asked is None:
        return profile.auth_method
    if asked not in allowed:
        raise InvalidClientMetadata(f"token_endpoint_auth_method {asked} is not available to a "
                                    f"{profile.name} client; use {' or '.join(allowed)}")
    return asked


def _checked_uri(uri: str, profile: ChannelProfile) -> str:
    try:
        return check_redirect_uri(uri, native=profile.native_redirects, allow_http_loopback=False)
    except ValidationError as exc:
        raise InvalidRedirectUri(exc.message) from None


def _redirect_uris(asked: tuple[str, ...] | None, profile: ChannelProfile,
                   grants: tuple[str, ...]) -> tuple[str, ...]:
    if AUTH_CODE in grants and not asked:
        raise InvalidRedirectUri("redirect_uris is required with the authorization_code grant")
    if asked and AUTH_CODE not in grants:
        raise InvalidRedirectUri("redirect_uris are used only with the authorization_code grant")
    return tuple(_checked_uri(u, profile) for u in asked or ())


def _scopes(asked: str | None, profile: ChannelProfile,
            current: ClientRecord | None) -> tuple[str, ...]:
    if asked is None:
        return tuple(s for s in profile.default_scopes if s in REGISTRATION_SCOPES)
    scopes = tuple(dict.fromkeys(asked.split()))
    if "id_card" in scopes:
        raise InvalidClientMetadata("the id_card scope (the citizen ID number) is granted by "
                                    "the security staff, never at registration")
    allowed = set(REGISTRATION_SCOPES) | set(current.scopes if current is not None else ())
    refused = [s for s in scopes if s not in allowed]
    if refused:
        raise InvalidClientMetadata(f"scope(s) {' '.join(refused)} cannot be registered; use "
                                    f"{' '.join(REGISTRATION_SCOPES)} (the security staff grant "
                                    "others)")
    return scopes


def _client_name(body: Mapping[str, Any]) -> str:
    name = _string(body, "client_name")
    if name is None:
        raise InvalidClientMetadata("client_name is required (the name citizens and staff see)")
    if len(name) > 200:
        raise InvalidClientMetadata("client_name must be at most 200 characters")
    return name
