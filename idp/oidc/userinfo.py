"""UserInfo endpoint (OIDC Core §5.3) with bearer tokens per RFC 6750.

The access token may come in the ``Authorization: Bearer`` header (GET or POST) or as the
``access_token`` form parameter of a POST (RFC 6750 §2.2) — never both (§2: "MUST NOT use more
than one method"). Errors use the ``WWW-Authenticate`` challenge of RFC 6750 §3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from idp.container import Services
from idp.oidc.claims import claims_for_scope
from idp.oidc.id_card import release_claims

Response = tuple[int, str, list[tuple[str, str]]]

NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def _challenge(status: int, error: str | None, description: str | None) -> Response:
    params = ['realm="userinfo"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{description}"')
    body = json.dumps({"error": error, "error_description": description} if error else {})
    headers = [("WWW-Authenticate", "Bearer " + ", ".join(params)),
               ("Content-Type", "application/json"), *NO_STORE]
    return status, body, headers


def extract_bearer(method: str, headers: Mapping[str, str], content_type: str,
                   form: Mapping[str, str]) -> tuple[str | None, Response | None]:
    header = headers.get("Authorization", "")
    from_header = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, _challenge(401, "invalid_request",
                                    "Authorization header must be 'Bearer <token>'")
        from_header = value.strip()
    from_body = None
    if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        from_body = form.get("access_token") or None
    if from_header and from_body:
        return None, _challenge(400, "invalid_request",
                                "send the access token in the header or the body, not both")
    token = from_header or from_body
    if not token:
        return None, _challenge(401, None, None)
    return token, None


def userinfo_response(services: Services, method: str, headers: Mapping[str, str],
                      content_type: str, form: Mapping[str, str]) -> Response:
    token, error = extract_bearer(method, headers, content_type, form)
    if error is not None or token is None:
        return error or _challenge(401, None, None)
    info = services.tokens.validate_access_token(token)
    if info is None:
        return _challenge(401, "invalid_token",
                          "the access token is invalid, expired or revoked")
    if "openid" not in info.scope.split() or info.account_id is None:
        return _challenge(403, "insufficient_scope",
                          "the access token was not issued for the openid scope")
    account = services.accounts.get(info.account_id)
    if account is None or account.status != "active":
        return _challenge(401, "invalid_token", "the account is no longer active")
    record = services.clients.get(info.client_id)
    if record is None:
        return _challenge(401, "invalid_token", "the client is no longer registered")
    claims: dict[str, Any] = claims_for_scope(
        account, info.scope, sub=services.subjects.sub_for(account.id, record))
    requested = info.claims.get("userinfo_claims")
    claims.update(release_claims(
        services, account, client_id=info.client_id, scope=info.scope,
        acr=info.claims.get("acr"), requested=requested if isinstance(requested, dict) else {},
        endpoint="userinfo", channel=str(info.claims.get("channel", ""))))
    return 200, json.dumps(claims, ensure_ascii=False), [
        ("Content-Type", "application/json; charset=utf-8"), *NO_STORE]
