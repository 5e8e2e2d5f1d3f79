"""Is each server doing what the comparison claims? Token formats (decoded headers), and that
codes and refresh tokens really are single-use — checked over HTTP like everything else."""

from __future__ import annotations

import base64
import json
from typing import Any

from bench.compare.config import API_SCOPE, REDIRECT_URI, SERVICE_ID
from bench.compare.material import Maker, basic

EXPECTED = {"access_token": ("ES256", "at+jwt"), "id_token": ("RS256", None),
            "client_credentials": ("ES256", "at+jwt")}


class CheckFailed(RuntimeError):
    """A server does not do what the comparison assumes."""


def jose_header(token: str) -> dict[str, Any] | None:
    """The protected header of a compact JWS, or None for an opaque token."""
    if token.count(".") != 2:
        return None
    head = token.split(".")[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        decoded: dict[str, Any] = json.loads(raw)
    except (ValueError, json.JSONDecodeError):
        return None
    return decoded


def _shape(token: str | None) -> dict[str, Any]:
    if token is None:
        return {"format": "absent"}
    header = jose_header(token)
    if header is None:
        return {"format": "opaque", "length": len(token)}
    return {"format": "JWT", "alg": header.get("alg"), "typ": header.get("typ")}


def token_formats(maker: Maker) -> dict[str, Any]:
    """One code exchange, one client-credentials grant and one userinfo-ready token, decoded;
    raises :class:`CheckFailed` unless the access tokens are ES256 ``at+jwt`` (RFC 9068) and
    the ID token RS256."""
    server = maker.server
    code_tokens = maker.tokens(api=True)
    body = {"grant_type": "client_credentials"}
    if maker.browser.peer:
        body["scope"] = API_SCOPE
    answer = maker.token_request(body, basic(SERVICE_ID, server.service_secret))
    if answer.status != 200:
        raise CheckFailed(f"{server.name}: client_credentials answered {answer.status}")
    shapes = {
        "access_token": _shape(code_tokens.access_token),
        "id_token": _shape(code_tokens.id_token),
        "refresh_token": _shape(code_tokens.refresh_token),
        "client_credentials": _shape(json.loads(answer.body)["access_token"]),
        "userinfo_access_token": _shape(maker.tokens(api=False).access_token),
    }
    for name, (alg, typ) in EXPECTED.items():
        shape = shapes[name]
        if shape.get("alg") != alg or (typ and shape.get("typ") != typ):
            raise CheckFailed(f"{server.name}: {name} is {shape}, expected {alg} {typ or ''}")
    if shapes["refresh_token"]["format"] == "absent":
        raise CheckFailed(f"{server.name}: the code exchange issued no refresh token")
    return shapes


def single_use(maker: Maker) -> dict[str, Any]:
    """A code presented twice, and a refresh token (from another code) presented twice: each
    second use must fail. Run last: on the peer a replay revokes the whole grant, on ours what
    the code issued (RFC 9700 4.2.1) or the token family (4.14.2)."""
    server = maker.server
    refresh_token = maker.tokens().refresh_token or ""
    code = maker.code()
    refresh = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    exchange = {"grant_type": "authorization_code", "code": code.code,
                "redirect_uri": REDIRECT_URI, "code_verifier": code.verifier}
    answers: dict[str, int] = {}
    # Both first uses before either replay: a replay at the peer revokes the whole grant.
    for attempt, data in (("refresh_first", refresh), ("code_first", exchange),
                          ("refresh_replay", refresh), ("code_replay", exchange)):
        answers[f"{attempt}_status"] = maker.token_request(data).status
    if (answers["refresh_first_status"], answers["code_first_status"]) != (200, 200) \
            or 200 in (answers["refresh_replay_status"], answers["code_replay_status"]):
        raise CheckFailed(f"{server.name}: single-use check failed: {answers}")
    return answers
