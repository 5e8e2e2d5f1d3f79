"""Token revocation (RFC 7009): Authlib's endpoint, with only the storage hooks supplied.

- Client authentication (§2.1): confidential clients with their secret (``client_secret_basic``
  or ``client_secret_post``); a public client (the app) with its ``client_id`` only.
- ``token_type_hint`` only orders the look-ups (§2.1: the server "MAY ignore" it); an unknown
  hint is ignored rather than answered ``unsupported_token_type``.
- A refresh token revokes its whole family — every rotation and the access tokens issued with
  them (§2.1: "SHOULD also invalidate all access tokens based on the same authorization
  grant"). An access token revokes its issuance (by ``jti``): that access token and the refresh
  token issued with it (§2.1 permits: "MAY revoke the respective refresh token as well").
- Unknown, malformed, already revoked tokens and tokens of another client are all answered
  200 with an empty body, and another client's token is left alone (§2.2: the answer must not
  tell whether a token exists or whose it is). §2.1 would allow refusing another client's token
  with an error; that error would confirm the token is real, so we do not.
- ``token:revoke:success`` is audited only when something was revoked.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from idp.oidc.models import IssuedToken, OAuthClient

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
REVOKED_REASON = "client_revocation"


class RevocationEndpoint(_RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def check_params(self, request: Any, client: OAuthClient) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("token is required (in a form-encoded request body)")

    def authenticate_token(self, request: Any, client: OAuthClient) -> IssuedToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is None or not token.check_client(client):
            return None  # another client's token: answered as an unknown one, left alone
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        found = self.server.services.tokens.find(token_string, token_type_hint)
        return IssuedToken(found) if found is not None else None

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        services = self.server.services
        found = token.found
        if found.kind == "refresh_token":
            revoked = services.tokens.revoke_family(found.row.family_id, reason=REVOKED_REASON)
        else:
            revoked = services.tokens.revoke_issuance(found.row.access_jti,
                                                      reason=REVOKED_REASON)
        if revoked:
            client_id = request.client.get_client_id()
            services.audit.record(client_id, "token:revoke:success",
                                  subject=found.row.account_id, client_id=client_id,
                                  extra={"token_type": found.kind, "revoked": revoked})

    def create_endpoint_response(self, request: Any) -> tuple[int, str, list[tuple[str, str]]]:
        """200 with an empty body whatever was (or was not) revoked (§2.2)."""
        status, _, headers = super().create_endpoint_response(request)
        return status, "", [(k, v) for k, v in headers if k != "Content-Type"]
