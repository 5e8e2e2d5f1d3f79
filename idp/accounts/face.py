"""Face verification (人脸核验): the :class:`FaceVerifier` interface and its two implementations.

Face verification is a service we do not own — in production the public-security CTID face
service or a vendor's liveness capture + portrait comparison. Such services work in three
moves, which the interface mirrors:

1. the server **begins** a check for a subject (real name + ID number) and the URL to send the
   person back to, and gets a check id and the URL of the service's capture page;
2. the person does the liveness capture there and is sent back to the return URL, with
   ``check=<check id>`` added to its query;
3. the server asks the service for the **result** of that check id: passed or not, a score.

* :class:`LocalFaceVerifier` — development: the capture page is a page of this IdP
  (``/dev/face/<check_id>``, :mod:`idp.web.views.face_dev`) that shows the subject's name and
  masked ID number and lets the developer choose the outcome. The settings loader refuses it in
  production mode (``[face] backend = "local"``).
* :class:`HttpFaceVerifier` — the service's HTTP API (``[face] http_begin_url``,
  ``http_result_url``), the contract in docs/integrations/face-verification.md. Any non-2xx
  answer, a malformed answer or no answer is :class:`FaceServiceUnavailable`.

The clear ID number exists only in memory, in the :class:`FaceSubject` handed to ``begin``: it
is never logged, stored (the local stand-in keeps the masked form) nor put in an error message.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
from authlib.common.urls import add_params_to_uri

from idp.errors import IdpError
from idp.identity.id_number import mask_id_number
from idp.store.ephemeral import EphemeralStore

_CHECK_ID = re.compile(r"^[A-Za-z0-9._~:-]{1,128}$")


class FaceServiceUnavailable(IdpError):
    """The face service did not answer, answered non-2xx, or answered something malformed."""

    code = "face.unavailable"


@dataclass(frozen=True)
class FaceSubject:
    """Whose face is checked: the real name and the clear ID number (kept out of ``repr``)."""

    name: str
    id_number: str = field(repr=False)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)


@dataclass(frozen=True)
class FaceCheck:
    check_id: str
    url: str  # where the person does the liveness capture


@dataclass(frozen=True)
class FaceResult:
    passed: bool
    score: float | None = None
    reason: str = ""  # why it did not pass, in the service's words (audited, never shown)


def valid_check_id(value: str) -> bool:
    """Check ids are opaque to us but must be short and URL-safe (they travel in a query)."""
    return bool(_CHECK_ID.match(value or ""))


class FaceVerifier(Protocol):
    def begin(self, subject: FaceSubject, return_url: str) -> FaceCheck:
        """Start a check; :class:`FaceServiceUnavailable` when the service cannot."""

    def result(self, check_id: str) -> FaceResult:
        """The outcome of a check (not passed while the capture is not done);
        :class:`FaceServiceUnavailable` when the service cannot say."""


class LocalFaceVerifier:
    """Development only: checks live in the ephemeral store (``face:dev:<check_id>``, for
    ``ttl`` seconds) with the subject's name and *masked* ID number; the capture URL is
    ``<issuer>/dev/face/<check_id>``, where the developer picks the outcome. Never use it in
    production (the loader refuses it there): anyone who opens that page decides."""

    def __init__(self, store: EphemeralStore, *, issuer: str, ttl: int) -> None:
        self._store = store
        self._issuer = issuer
        self._ttl = ttl

    @staticmethod
    def _key(check_id: str) -> str:
        return f"face:dev:{check_id}"

    def begin(self, subject: FaceSubject, return_url: str) -> FaceCheck:
        check_id = secrets.token_urlsafe(24)
        self._store.put(self._key(check_id), {
            "name": subject.name, "id_number_masked": subject.id_number_masked,
            "return_url": return_url, "outcome": None}, self._ttl)
        return FaceCheck(check_id, f"{self._issuer}/dev/face/{check_id}")

    def pending(self, check_id: str) -> dict[str, Any] | None:
        """What the capture page shows (name, masked ID number); None when unknown/expired."""
        if not valid_check_id(check_id):
            return None
        return self._store.get(self._key(check_id))

    def record(self, check_id: str, matches: bool) -> str | None:
        """Record the developer's choice; the URL to send the browser back to (the return URL
        with ``check`` added), or None when the check is unknown or expired."""
        entry = self.pending(check_id)
        if entry is None or not self._store.replace(self._key(check_id),
                                                    {**entry, "outcome": matches}):
            return None
        back: str = add_params_to_uri(str(entry["return_url"]), [("check", check_id)])
        return back

    def result(self, check_id: str) -> FaceResult:
        entry = self.pending(check_id)
        if entry is None:
            return FaceResult(False, None, "unknown_check")
        outcome = entry.get("outcome")
        if outcome is None:
            return FaceResult(False, None, "not_captured")
        return FaceResult(True, 99.0) if outcome else FaceResult(False, 12.0, "no_match")


@dataclass(frozen=True)
class HttpFaceVerifier:
    """The face service's HTTP API (docs/integrations/face-verification.md):

    * ``POST begin_url`` with JSON ``{"name", "id_number", "return_url"}`` → 2xx JSON
      ``{"check_id": str, "url": "https://…"}``;
    * ``GET result_url`` (``{check_id}`` replaced, URL-encoded) → 2xx JSON
      ``{"passed": bool, "score": number | null, "reason": str (optional)}``.

    Both with ``Authorization: Bearer <token>`` when a token is set, within ``timeout``."""

    begin_url: str
    result_url: str
    timeout: float = 5.0
    token: str = field(default="", repr=False)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _call(self, method: str, url: str, body: dict[str, str] | None = None
              ) -> dict[str, Any]:
        try:
            resp = requests.request(method, url, json=body, headers=self._headers(),
                                    timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            # Neither the URL (the result URL names the check) nor the error text, which may
            # quote the request.
            raise FaceServiceUnavailable(
                f"the face service did not answer ({type(exc).__name__})") from None
        if not 200 <= resp.status_code < 300:
            raise FaceServiceUnavailable(f"the face service answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise FaceServiceUnavailable("the face service answered something other than "
                                         "JSON") from None
        if not isinstance(data, dict):
            raise FaceServiceUnavailable("the face service answered a JSON value that is not "
                                         "an object")
        return data

    def begin(self, subject: FaceSubject, return_url: str) -> FaceCheck:
        data = self._call("POST", self.begin_url, {
            "name": subject.name, "id_number": subject.id_number, "return_url": return_url})
        check_id, url = data.get("check_id"), data.get("url")
        if not isinstance(check_id, str) or not valid_check_id(check_id):
            raise FaceServiceUnavailable("the face service answered without a usable check_id")
        if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"} \
                or not urlsplit(url).netloc:
            raise FaceServiceUnavailable("the face service answered without an http(s) url")
        return FaceCheck(check_id, url)

    def result(self, check_id: str) -> FaceResult:
        url = self.result_url.replace("{check_id}", quote(check_id, safe=""))
        data = self._call("GET", url)
        passed, score, reason = data.get("passed"), data.get("score"), data.get("reason", "")
        if not isinstance(passed, bool):
            raise FaceServiceUnavailable("the face service answered without passed: "
                                         "true/false")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                                  or not math.isfinite(score)):
            raise FaceServiceUnavailable("the face service answered a score that is not a "
                                         "number")
        return FaceResult(passed, None if score is None else float(score),
                          reason[:64] if isinstance(reason, str) else "")
