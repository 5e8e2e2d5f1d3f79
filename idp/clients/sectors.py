"""Sector identifiers for pairwise subjects (OpenID Connect Core 1.0 §8.1, Registration 1.0 §5).

A pairwise client's **sector** is the host of its ``sector_identifier_uri`` when it registers
one, else the host of its redirect URIs — which must then all share that one host. At
registration the IdP fetches the ``sector_identifier_uri`` (https; http to loopback outside
production, as for redirect URIs), without following redirects and with a short timeout; it
must answer 200 with a JSON array of URIs that contains every one of the client's redirect URIs.
Otherwise registration fails with a one-line :class:`~idp.errors.ValidationError`.

The result, kept in the client's ``extra``: ``subject_type``, ``sector`` and, when given,
``sector_identifier_uri``. :class:`idp.accounts.subjects.SubjectService` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from idp.accounts.subjects import PAIRWISE, PUBLIC, SUBJECT_TYPES
from idp.clients.redirects import check_redirect_uri
from idp.errors import ValidationError

FETCH_TIMEOUT = 5.0  # seconds, connect and read
MAX_DOCUMENT = 64 * 1024  # bytes: a list of redirect URIs, not a data set

# (uri) -> (HTTP status, body); raises requests.RequestException when unreachable.
Fetch = Callable[[str], tuple[int, bytes]]


def _error(message: str) -> ValidationError:
    return ValidationError(message, code="client.sector_identifier_uri")


def fetch_document(uri: str) -> tuple[int, bytes]:
    with requests.Session() as http:
        http.trust_env = False  # no proxy from the environment
        answer = http.get(uri, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True,
                          headers={"Accept": "application/json"})
        try:
            body = answer.raw.read(MAX_DOCUMENT + 1, decode_content=True)
        finally:
            answer.close()
    return answer.status_code, body


def subject_settings(subject_type: str | None, sector_identifier_uri: str | None,
                     redirect_uris: Sequence[str], *, channel: str, production: bool,
                     fetch: Fetch = fetch_document) -> dict[str, Any]:
    """The ``extra`` entries of a client's subject type (empty for a public client)."""
    kind = subject_type or PUBLIC
    if kind not in SUBJECT_TYPES:
        raise ValidationError(f"unknown subject type {kind!r}; use public or pairwise",
                              code="client.subject_type")
    if kind == PUBLIC:
        if sector_identifier_uri:
            raise _error("a sector_identifier_uri is only used with the pairwise subject type")
        return {}
    if not redirect_uris:
        raise ValidationError(f"a {channel} client has no user subject: pairwise needs a client "
                              "that signs citizens in through redirect URIs",
                              code="client.subject_type")
    if sector_identifier_uri:
        uri = sector_identifier_uri.strip()
        sector = _checked_sector_uri(uri, production)
        _check_listed(uri, redirect_uris, fetch)
        return {"subject_type": PAIRWISE, "sector_identifier_uri": uri, "sector": sector}
    hosts = {urlsplit(u).hostname or "" for u in redirect_uris}
    if len(hosts) != 1 or "" in hosts:
        raise _error("the redirect URIs are not all on one host: register a "
                     "sector_identifier_uri listing them to choose the pairwise sector")
    return {"subject_type": PAIRWISE, "sector": hosts.pop()}


def _checked_sector_uri(uri: str, production: bool) -> str:
    try:
        check_redirect_uri(uri, native=False, allow_http_loopback=not production)
    except ValidationError:
        raise _error(f"sector_identifier_uri {uri!r} must be an https URI (http only to "
                     "loopback outside production), without a fragment") from None
    return urlsplit(uri).hostname or ""


def _check_listed(uri: str, redirect_uris: Sequence[str], fetch: Fetch) -> None:
    try:
        status, body = fetch(uri)
    except requests.RequestException as exc:
        raise _error(f"sector_identifier_uri {uri} could not be fetched "
                     f"({type(exc).__name__})") from None
    if status != 200:
        raise _error(f"sector_identifier_uri {uri} answered HTTP {status}, not 200 with a JSON "
                     "array of redirect URIs")
    if len(body) > MAX_DOCUMENT:
        raise _error(f"sector_identifier_uri {uri} answered more than {MAX_DOCUMENT} bytes")
    try:
        listed = json.loads(body)
    except ValueError:
        listed = None
    if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
        raise _error(f"sector_identifier_uri {uri} did not answer a JSON array of URIs")
    missing = [u for u in redirect_uris if u not in listed]
    if missing:
        raise _error(f"sector_identifier_uri {uri} does not list the redirect URI(s) "
                     f"{' '.join(missing)}")
