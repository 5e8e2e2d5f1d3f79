"""The device authorization grant (RFC 8628) on Authlib: Authlib's endpoint and grant, our hooks.

* :class:`DeviceAuthorizationEndpoint` — ``POST /device_authorization`` (§3.1, §3.2). Counter
  clients authenticate with their secret (``client_secret_basic`` or ``client_secret_post``);
  only a client whose channel policy allows the device_code grant may start one, others get
  ``unauthorized_client``. ``scope`` defaults to ``openid``; ``login_hint`` (a citizen ID
  number or mobile phone number) names the only citizen who may approve — it is resolved to an
  account at once and never stored in clear. ``id_card_number`` + ``clerk_id`` (clients staff
  allowed with ``idp clients allow-in-person``) attest that the clerk checked that citizen's
  physical ID card: only that citizen may approve, and the tokens get ``acr`` L4 with ``ipv``
  in ``amr``. The approver's sign-in must reach the channel's ``min_acr``.
* :class:`DeviceCodeGrant` — polling the token endpoint (§3.4, §3.5): ``authorization_pending``
  until the citizen decides, ``slow_down`` when polled faster than the interval (which then
  grows by 5 s), ``access_denied``, ``expired_token``; ``invalid_grant`` for a device code that
  is unknown, another client's, or already redeemed. The approved authorization is taken with
  an atomic consume, so exactly one poll gets the tokens. They carry the approver's sign-in
  (``sid``, ``auth_time``, ``acr``, ``amr``) and, with ``openid``, an ID token made by the code
  flow's machinery (:class:`idp.oidc.grants.OpenIDToken`).

The state itself is kept by :mod:`idp.oidc.device_flow`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _Endpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _Grant
from authlib.oauth2.rfc8628 import DeviceCredentialMixin

from idp.accounts.services import looks_like_phone
from idp.clients.channels import DEVICE_CODE
from idp.identity import is_valid_id_number
from idp.oidc.acr import rank
from idp.oidc.device_flow import DeviceAuthorization, new_user_code
from idp.oidc.grants import _IssuesTokens
from idp.oidc.models import OAuthClient
from idp.store.models import Account


class DeviceCredential(DeviceCredentialMixin):  # type: ignore[misc]
    """A device authorization as Authlib reads it: the grant's ``DeviceCredentialMixin``, and,
    once approved, the sign-in accessors the OpenID extension and token context read from
    ``request.authorization_code`` (as for an authorization code)."""

    code_digest = None  # not an authorization code: nothing to revoke on code replay

    def __init__(self, record: DeviceAuthorization, now: float) -> None:
        self.record = record
        self._now = now
        self.sid, self.auth_time, self.acr = record.sid, record.auth_time, record.acr
        self.amr = list(record.amr)

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def get_user_code(self) -> str:
        return self.record.user_code

    def is_expired(self) -> bool:
        return self.record.expired(self._now)

    def get_nonce(self) -> None:
        return None  # no authorization request, so no nonce (RFC 8628 has none)

    def get_auth_time(self) -> int | None:
        return self.record.auth_time

    def get_acr(self) -> str | None:
        return self.record.acr

    def get_amr(self) -> list[str]:
        return list(self.record.amr)


class DeviceAuthorizationEndpoint(_Endpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def __init__(self, server: Any, request: Any = None) -> None:
        super().__init__(server)
        self.request = request
        self.EXPIRES_IN = server.services.device.ttl
        self.INTERVAL = server.services.device.interval

    def __call__(self, request: Any) -> Any:
        # A fresh endpoint per request, as Authlib makes a fresh grant per request, so that
        # the hooks below can read this request's own parameters (login_hint).
        return type(self)(self.server, request).create_endpoint_response(request)

    def authenticate_client(self, request: Any) -> OAuthClient:
        client: OAuthClient = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("this client's channel may not use the device "
                                          "authorization grant")
        return client

    def generate_device_code(self) -> str:
        return secrets.token_urlsafe(32)

    def generate_user_code(self) -> str:
        return new_user_code()

    def get_verification_uri(self) -> str:
        return f"{self.server.services.settings.issuer}/device"

    def save_device_credential(self, client_id: str, scope: str | None,
                               data: dict[str, Any]) -> None:
        client: OAuthClient = self.request.client
        granted = client.get_allowed_scope(scope or "openid")
        if not granted:
            raise InvalidScopeError("none of the requested scopes is registered for this client")
        login_hint, hint_account = self._login_hint()
        clerk = self._in_person_check(client)
        if clerk is not None:
            login_hint, hint_account = self._card_holder(login_hint, hint_account)
        required = client.policies.policy(client.record.channel).min_acr
        if required == "L4" and clerk is None:
            raise InvalidRequestError("this counter channel requires assurance level L4: send "
                                      "id_card_number and clerk_id once the clerk has checked "
                                      "the citizen's ID card")
        record = self.server.services.device.start(
            data["device_code"], data["user_code"], client_id=client_id,
            channel=client.record.channel, scope=granted, login_hint=login_hint,
            hint_account=hint_account, required_acr=required, clerk=clerk)
        if record.display_code != data["user_code"]:  # the proposed one was taken
            data["user_code"] = record.display_code
            data["verification_uri_complete"] = add_params_to_uri(
                data["verification_uri"], [("user_code", record.display_code)])

    def _login_hint(self) -> tuple[bool, str | None]:
        """(a hint was given, the account it names). A hint naming nobody still binds the
        authorization — nobody can approve it — and the terminal is not told which: the
        endpoint must not reveal who has an account."""
        hint = str(self.request.payload.data.get("login_hint") or "").strip()
        if not hint:
            return False, None
        if len(hint) > 32 or not (looks_like_phone(hint) or is_valid_id_number(hint)):
            raise InvalidRequestError("login_hint must be the citizen's ID number or mobile "
                                      "phone number")
        account = self.server.services.accounts.find_by_username(hint)
        return True, account.id if account is not None and account.status == "active" else None


    def _in_person_check(self, client: OAuthClient) -> str | None:
        """The clerk who checked the physical ID card (``clerk_id``), when the terminal
        attests one with ``id_card_number`` — only clients staff allowed it
        (``idp clients allow-in-person``)."""
        params = self.request.payload.data
        number, clerk = params.get("id_card_number"), params.get("clerk_id")
        if not number and not clerk:
            return None
        if not client.record.extra.get("in_person_check"):
            raise UnauthorizedClientError("this client may not attest in-person ID-card checks; "
                                          "staff allow it with `idp clients allow-in-person`")
        if not number or not clerk:
            raise InvalidRequestError("an in-person check needs both id_card_number and "
                                      "clerk_id")
        clerk = str(clerk).strip()
        if not 0 < len(clerk) <= 64 or not clerk.isprintable():
            raise InvalidRequestError("clerk_id must be 1 to 64 printable characters")
        if not is_valid_id_number(str(number).strip()):
            raise InvalidRequestError("id_card_number is not a valid citizen ID number (18 "
                                      "characters, check digit)")
        return clerk

    def _card_holder(self, login_hint: bool, hint_account: str | None
                     ) -> tuple[bool, str | None]:
        """Only the citizen the checked card names may approve (bound like a login_hint; a
        card naming nobody registered binds the code to nobody, and the terminal is not told)."""
        number = str(self.request.payload.data["id_card_number"]).strip()
        account = self.server.services.accounts.find_by_username(number)
        holder = account.id if account is not None and account.status == "active" else None
        if login_hint and hint_account != holder:
            raise InvalidRequestError("login_hint and id_card_number name different citizens")
        return True, holder


class DeviceCodeGrant(_IssuesTokens, _Grant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    _credential: DeviceCredential

    def authenticate_token_endpoint_client(self) -> OAuthClient:
        client: OAuthClient = super().authenticate_token_endpoint_client()
        self.request.client = client  # query_device_credential checks the code is its own
        return client

    def query_device_credential(self, device_code: str) -> DeviceCredential:
        record = self.server.services.device.find(device_code)
        if record is None or record.client_id != self.request.client.get_client_id():
            # One answer for unknown, another client's and already redeemed codes.
            raise InvalidGrantError("the device_code is unknown, was issued to another "
                                    "client, or has already been redeemed")
        self._credential = DeviceCredential(record, now=time.time())
        return self._credential

    def query_user_grant(self, user_code: str) -> tuple[Account | None, bool] | None:
        record = self._credential.record
        if record.status == "pending":
            return None
        if record.status != "approved":
            return None, False
        services = self.server.services
        taken = services.device.hand_out(record)
        if taken is None:
            raise InvalidGrantError("the device_code has already been redeemed")
        account: Account | None = services.accounts.get(taken.account_id or "")
        session = services.sso.get(taken.sid)
        if account is None or account.status != "active" or session is None \
                or session.account_id != account.id:
            raise InvalidGrantError("the citizen's sign-in has ended; start again")
        if rank(taken.acr) < rank(taken.required_acr):  # decide() refuses this already
            raise InvalidGrantError(f"the approval did not reach assurance level "
                                    f"{taken.required_acr}")
        # The approved authorization is this request's grant of the citizen's sign-in: the
        # token context and the OpenID extension read it where they read a code's.
        self.request.authorization_code = DeviceCredential(taken, now=time.time())
        return account, True

    def should_slow_down(self, credential: DeviceCredential) -> bool:
        return bool(self.server.services.device.poll_too_fast(credential.record))

    def save_token(self, token: dict[str, Any]) -> None:
        record = self._credential.record
        self.server.services.audit.record(
            record.client_id, "device:token:success", subject=record.account_id,
            client_id=record.client_id, extra={"scope": token.get("scope", "")})
