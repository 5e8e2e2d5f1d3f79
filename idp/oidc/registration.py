"""Dynamic client registration (RFC 7591 §3) and its management (RFC 7592 §2) on Authlib's
endpoints: we supply the hooks; what may be registered is decided by
:mod:`idp.clients.registration`.

- ``POST /register`` with ``Authorization: Bearer <initial access token>`` (RFC 7591 §3): the
  metadata is checked, then the client is created ``pending`` and one use of the initial token
  is counted — in one transaction. 201 with ``client_id``, ``client_secret`` (confidential
  clients; shown once), ``client_id_issued_at``, ``client_secret_expires_at`` = 0, the
  registered metadata, ``registration_access_token`` and ``registration_client_uri``.
- ``GET | PUT | DELETE /register/<client_id>`` with ``Authorization: Bearer <registration
  access token>`` (RFC 7592 §2.1-2.3): read, replace (checked as a registration), delete (204).

Errors: every token problem — an unknown client too, so nobody learns which clients exist
(RFC 7592 §2.1) — is 401 ``invalid_token`` with ``WWW-Authenticate``. Metadata problems are 400
``invalid_client_metadata`` / ``invalid_redirect_uri`` (RFC 7591 §3.2.2), and then nothing is
written and no use of the initial token is counted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, JsonPayload, JsonRequest
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import (
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint

from idp.clients import ClientRecord
from idp.clients.initial_tokens import InitialTokenRefused
from idp.clients.registration import (
    TOKEN_DIGEST,
    ClientMetadata,
    client_information,
    new_registration_token,
    parse_metadata,
    registration_token_matches,
)
from idp.errors import NotFound, ValidationError
from idp.store.models import InitialAccessToken

_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


@dataclass(frozen=True)
class HttpCall:
    """What these endpoints read of an HTTP request; the web layer builds it."""

    method: str
    uri: str
    headers: Mapping[str, str]
    body: bytes
    client_id: str | None = None  # the <client_id> of the registration_client_uri


@dataclass(frozen=True)
class _Registered:
    record: ClientRecord
    secret: str | None
    access_token: str


@dataclass(frozen=True)
class _RegistrationAccess:
    """A verified registration access token (RFC 7592 §1.1), valid for one client only."""

    record: ClientRecord

    def check_client(self, client: ClientRecord) -> bool:
        return client.client_id == self.record.client_id


def _description(message: str) -> str:
    """RFC 6749 §5.2: an error_description is printable ASCII without ``"`` and ``\\``."""
    return _NOT_DESCRIPTION.sub("?", message.replace("–", "-"))[:300]


def _metadata_error(exc: ValidationError) -> InvalidClientMetadataError:
    if exc.code in ("invalid_redirect_uri", "client.redirect_uri"):
        return InvalidRedirectURIError(_description(exc.message))
    return InvalidClientMetadataError(_description(exc.message))


def _invalid_token(message: str) -> InvalidTokenError:
    return InvalidTokenError(_description(message), realm="register")


def _bearer(request: JsonRequest) -> str:
    scheme, _, token = str(request.headers.get("Authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid_token("send Authorization: Bearer <token>")
    return token.strip()


class _Payload(JsonPayload):  # type: ignore[misc]
    def __init__(self, body: bytes) -> None:
        self._body = body

    @cached_property
    def data(self) -> Any:
        try:
            return json.loads(self._body)
        except ValueError:  # not JSON, or not UTF-8
            raise InvalidClientMetadataError(
                "the body is not JSON: send the client metadata as a JSON object "
                "(Content-Type: application/json)") from None


def _json_request(call: HttpCall) -> JsonRequest:
    request = JsonRequest(call.method, call.uri, call.headers)
    request.payload = _Payload(call.body)
    request.client_id = call.client_id
    return request


class _Endpoint:
    """What both endpoints share: the services, and requests built from an :class:`HttpCall`."""

    server: Any

    def create_endpoint_request(self, request: HttpCall) -> JsonRequest:
        return _json_request(request)

    def get_server_metadata(self) -> dict[str, Any]:
        return {}  # metadata is checked by idp.clients.registration, not Authlib's claims

    def client_uri(self, client_id: str) -> str:
        return f"{self.server.services.settings.issuer}/register/{client_id}"


class RegistrationEndpoint(_Endpoint, ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591 §3.1: register a client; it waits for staff approval."""

    def authenticate_token(self, request: JsonRequest) -> InitialAccessToken:
        try:
            found: InitialAccessToken = self.server.services.initial_tokens.verify(
                _bearer(request))
        except InitialTokenRefused as exc:
            raise _invalid_token(exc.message) from None
        return found

    def extract_client_metadata(self, request: JsonRequest) -> dict[str, Any]:
        try:
            request.metadata = parse_metadata(request.payload.data,
                                              policies=self.server.services.policies)
        except ValidationError as exc:
            raise _metadata_error(exc) from None
        return {}  # the answer is the registered metadata: generate_client_registration_info

    def generate_client_info(self, request: JsonRequest) -> dict[str, Any]:
        return {}  # the client_id and secret are made by ClientService.create (save_client)

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any],
                    request: JsonRequest) -> _Registered:
        services = self.server.services
        token = _bearer(request)
        metadata: ClientMetadata = request.metadata  # set by extract_client_metadata
        access_token, digest = new_registration_token()
        try:
            record, secret = services.clients.create(
                metadata.client, actor=f"initial-token:{request.credential.id}",
                status="pending", extra={TOKEN_DIGEST: digest},
                within=lambda session: services.initial_tokens.consume(token, session=session))
        except InitialTokenRefused as exc:  # used up meanwhile by another registration
            raise _invalid_token(exc.message) from None
        except ValidationError as exc:
            raise _metadata_error(exc) from None
        return _Registered(record, secret, access_token)

    def generate_client_registration_info(self, client: _Registered,
                                          request: JsonRequest) -> dict[str, Any]:
        info = client_information(client.record) | {
            "client_id_issued_at": int(time.time()), "client_secret_expires_at": 0,
            "registration_access_token": client.access_token,
            "registration_client_uri": self.client_uri(client.record.client_id)}
        if client.secret:
            info["client_secret"] = client.secret
        return info


class ConfigurationEndpoint(_Endpoint, ClientConfigurationEndpoint):  # type: ignore[misc]
    """RFC 7592 §2: a registered client reads, replaces or deletes its own registration."""

    def authenticate_token(self, request: JsonRequest) -> _RegistrationAccess:
        token, client_id = _bearer(request), request.client_id or ""
        clients = self.server.services.clients
        clients.invalidate(client_id)  # read afresh: a change made on another node counts now
        record = clients.get(client_id)
        if record is None or not registration_token_matches(record, token):
            raise _invalid_token("the registration access token is not valid for this client")
        return _RegistrationAccess(record)

    def authenticate_client(self, request: JsonRequest) -> ClientRecord:
        record: ClientRecord = request.credential.record
        return record

    def check_permission(self, client: ClientRecord, request: JsonRequest) -> bool:
        return True  # every client may read, change and delete its own registration

    def revoke_access_token(self, request: JsonRequest, token: Any) -> None:
        return None  # not reached: an unknown client fails authenticate_token

    def introspect_client(self, client: ClientRecord) -> dict[str, Any]:
        return client_information(client)

    def generate_client_registration_info(self, client: ClientRecord,
                                          request: JsonRequest) -> dict[str, Any]:
        # The registration access token stays the same; only its digest is kept, so it is not
        # repeated here (RFC 7592 §3 lets the server omit it).
        return {"registration_client_uri": self.client_uri(client.client_id)}

    def delete_client(self, client: ClientRecord, request: JsonRequest) -> None:
        try:
            self.server.services.clients.delete(client.client_id,
                                                actor=f"client:{client.client_id}")
        except NotFound:  # deleted meanwhile
            raise _invalid_token("the registration access token is not valid for this "
                                 "client") from None

    def create_update_client_response(self, client: ClientRecord,
                                      request: JsonRequest) -> tuple[int, Any, Any]:
        """RFC 7592 §2.2: the request carries all the metadata, which replaces the old; the
        members the server provisioned (registration_client_uri, …) are ignored."""
        data = request.payload.data
        if isinstance(data, Mapping) and data.get("client_id") != client.client_id:
            raise InvalidRequestError("client_id must be this client's client_id")
        if isinstance(data, Mapping) and "client_secret" in data and \
                not client.check_secret(str(data["client_secret"])):
            raise InvalidRequestError("client_secret is not this client's secret (a client "
                                      "cannot choose its secret)")
        try:
            metadata = parse_metadata(data, policies=self.server.services.policies,
                                      current=client)
            updated = self.server.services.clients.replace(
                client.client_id, metadata.client, actor=f"client:{client.client_id}")
        except NotFound:
            raise _invalid_token("the registration access token is not valid for this "
                                 "client") from None
        except ValidationError as exc:
            raise _metadata_error(exc) from None
        return self.create_read_client_response(updated, request)  # type: ignore[no-any-return]
