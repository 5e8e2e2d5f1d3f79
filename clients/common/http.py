"""The network edge of the reference clients: one HTTP request in, one response out.

Everything that talks to the IdP (or to the mini-program backend) goes through a
:data:`Transport` — a plain function. :func:`requests_transport` is the real one; tests pass
their own and see exactly what would have been sent.

Authlib's ``OAuth2Session`` (a ``requests.Session``) reaches the same edge through
:class:`TransportAdapter` when a transport is injected.

Client authentication ``client_secret_basic`` is built here (RFC 6749 §2.3.1: client id and
secret are form-urlencoded before they are joined and base64-encoded).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from .errors import IDP, unreachable


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None  # query string
    form: Mapping[str, str] | None = None  # application/x-www-form-urlencoded body
    json: Any = None  # JSON body


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        """The decoded JSON body; ``ValueError`` if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


Transport = Callable[[HttpRequest], HttpResponse]


def basic_auth(client_id: str, client_secret: str) -> dict[str, str]:
    """The ``Authorization`` header of ``client_secret_basic`` (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def bearer(access_token: str) -> dict[str, str]:
    """RFC 6750 §2.1."""
    return {"Authorization": f"Bearer {access_token}"}


def requests_transport(
    timeout: float, session: requests.Session | None = None, *, peer: tuple[str, str] = IDP
) -> Transport:
    """The real transport. Redirects are not followed; a network failure becomes the
    ``unreachable`` :class:`~.errors.ClientError` naming ``peer`` (never the request)."""
    http = session or requests.Session()

    def send(request: HttpRequest) -> HttpResponse:
        try:
            resp = http.request(
                request.method,
                request.url,
                headers={"Accept": "application/json", **request.headers},
                params=request.params,
                data=request.form,
                json=request.json,
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise unreachable(exc, peer) from None
        return HttpResponse(
            status=resp.status_code,
            body=resp.content,
            headers={name.lower(): value for name, value in resp.headers.items()},
        )

    return send


class TransportAdapter(BaseAdapter):
    """A ``requests`` adapter that sends through a :data:`Transport`: mounted on Authlib's
    ``OAuth2Session`` so its token requests reach the same (injected) edge as ours."""

    def __init__(self, transport: Transport) -> None:
        super().__init__()
        self.transport = transport

    def send(  # type: ignore[override]  # the keyword arguments are not used
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        raw = request.body
        body = raw.decode() if isinstance(raw, bytes) else raw if isinstance(raw, str) else ""
        headers = {
            name: value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        content_type = headers.get("Content-Type", "")
        answer = self.transport(
            HttpRequest(
                method=request.method or "GET",
                url=urlunsplit(parts._replace(query="")),
                headers=headers,
                params=dict(parse_qsl(parts.query)) or None,
                form=dict(parse_qsl(body))
                if content_type.startswith("application/x-www-form-urlencoded")
                else None,
                json=json.loads(body)
                if body and content_type.startswith("application/json")
                else None,
            )
        )
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None
