"""OAuth 2.0 Token Exchange (RFC 8693) for the mini-program channel (DESIGN.md §2).

The mini-program's backend — a confidential ``miniprogram`` client — trades the citizen app's
access token for tokens of its own, in the same SSO session: one sign-in, no second password.

- Request (§2.1): ``subject_token`` with ``subject_token_type`` (only access tokens issued
  here); optional ``scope`` (§2.1: narrows the subject token's); ``audience`` / ``resource``
  (§2.1, RFC 8707: only the requesting client itself); ``requested_token_type`` (access token
  only); ``actor_token`` with ``actor_token_type`` (§2.1, delegation: 代办).
- Response (§2.2.1): ``access_token``, ``issued_token_type``, ``token_type`` Bearer,
  ``expires_in`` and ``scope``; an ``id_token`` when ``openid`` is granted; a ``refresh_token``
  when the target channel issues them, ``offline_access`` is granted and nobody acts for the
  citizen (a delegated token is renewed by exchanging again, so the actor is re-checked).
- Errors (§2.2.2): RFC 6749 §5.2 codes. A subject or actor token that is not a valid access
  token from this issuer is ``invalid_request`` (§2.2.2); ``invalid_target`` for an audience
  or resource other than the client; policy refusals are ``unauthorized_client`` (this client
  may not exchange from that source) and ``invalid_grant`` (the citizen's sign-in, account or
  assurance level no longer backs the subject token; the actor may not act for the citizen).
- ``act`` (§4.1): when an actor token is accepted the issued tokens carry
  ``{"sub": <actor's sub>, "client_id": <actor's client>}``. An actor is a client that
  ``[token_exchange].actor_clients`` lets act (a counter terminal at the window), or a citizen
  holding an active delegation from the subject citizen (:mod:`idp.accounts.delegations`).

The issued tokens keep the subject's ``sid`` (logout everywhere revokes them too) and the SSO
session's ``auth_time``, ``acr`` and ``amr``; the mini-program joins the session's clients.
:data:`CHECKS` lists the checks in the order they run; each raises an Authlib ``OAuth2Error``.
Outcomes are audited as ``token:exchange:success`` / ``token:exchange:refused``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    scope_to_list,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from idp.clients import ClientRecord
from idp.config.settings import TOKEN_EXCHANGE
from idp.container import Services
from idp.oidc.acr import AcrNames
from idp.oidc.authorize import NON_CONSENT_SCOPES
from idp.oidc.errors import InvalidTargetError
from idp.oidc.id_tokens import IdTokenSigner
from idp.oidc.models import OAuthClient
from idp.sessions import SsoSession
from idp.store.models import Account
from idp.tokens import AccessTokenInfo, IssueContext

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 — a URN
SINGLE_PARAMETERS = ("subject_token", "subject_token_type", "actor_token", "actor_token_type",
                     "requested_token_type", "scope")
_NQCHAR = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass
class Exchange:
    """One token-exchange request as the checks see it; each check fills in what it found."""

    services: Services
    client: OAuthClient  # the authenticated requester, and the target of the new tokens
    form: Any  # the form-encoded body (a werkzeug MultiDict)
    subject: AccessTokenInfo | None = None
    source: ClientRecord | None = None
    session: SsoSession | None = None
    account: Account | None = None
    act: dict[str, str] | None = None
    scope: str = ""

    def param(self, name: str) -> str:
        return str(self.form.get(name) or "")

    @property
    def channel(self) -> str:
        return self.client.record.channel

    @property
    def client_id(self) -> str:
        return self.client.get_client_id()


Check = Callable[[Exchange], None]


def check_grant_allowed(ex: Exchange) -> None:
    """The requester's channel must offer token exchange (``[channels.*].grant_types``)."""
    if not ex.client.check_grant_type(TOKEN_EXCHANGE):
        raise UnauthorizedClientError(f"{ex.channel} clients may not use token exchange")


def check_parameters(ex: Exchange) -> None:
    """Required parameters present, each once; token types we accept (§2.1)."""
    for name in SINGLE_PARAMETERS:
        if len(ex.form.getlist(name)) > 1:
            raise InvalidRequestError(f"{name} must not be repeated")
    if not ex.param("subject_token"):
        raise InvalidRequestError("subject_token is required (in the form-encoded body)")
    if ex.param("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}, "
                                  "the only subject token type supported")
    requested = ex.param("requested_token_type")
    if requested and requested != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"requested_token_type may only be {ACCESS_TOKEN_TYPE}")
    actor_token, actor_type = ex.param("actor_token"), ex.param("actor_token_type")
    if actor_token and not actor_type:
        raise InvalidRequestError("actor_token_type is required with actor_token")
    if actor_type and not actor_token:
        raise InvalidRequestError("actor_token_type must not be sent without actor_token")
    if actor_type and actor_type != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"actor_token_type must be {ACCESS_TOKEN_TYPE}, "
                                  "the only actor token type supported")


def check_target(ex: Exchange) -> None:
    """Tokens are issued only for the requesting client itself (§2.1, §2.2.2; RFC 8707)."""
    targets = ex.form.getlist("audience") + ex.form.getlist("resource")
    if any(target != ex.client_id for target in targets):
        raise InvalidTargetError(f"tokens can only be issued for this client: send audience "
                                 f"{ex.client_id} or leave audience and resource out")


def check_subject_token(ex: Exchange) -> None:
    """An access token we issued to a citizen: signature, expiry, revocation (§2.2.2)."""
    info = ex.services.tokens.validate_access_token(ex.param("subject_token"))
    if info is None:
        raise InvalidRequestError("subject_token is not a valid access token of this issuer "
                                  "(malformed, expired, revoked or signed by another key)")
    if info.account_id is None or not info.sid:
        raise InvalidRequestError("subject_token does not represent a signed-in citizen")
    ex.subject = info


def check_exchange_policy(ex: Exchange) -> None:
    """``[token_exchange].allow`` must list the source → target pair."""
    assert ex.subject is not None  # noqa: S101 — check_subject_token ran first
    source = ex.services.clients.get(ex.subject.client_id)
    if source is None or source.status != "active":
        raise InvalidRequestError("subject_token was issued to a client that is not active")
    if not ex.services.policies.exchange_allowed(source.client_id, source.channel,
                                                 ex.client_id, ex.channel):
        raise UnauthorizedClientError(
            f"exchange from {source.channel} client {source.client_id} into "
            f"{ex.channel} client {ex.client_id} is not allowed")
    ex.source = source


def check_session(ex: Exchange) -> None:
    """The subject's SSO session (its ``sid``) must still exist, for the same citizen."""
    assert ex.subject is not None  # noqa: S101
    session = ex.services.sso.get(ex.subject.sid)
    if session is None or session.account_id != ex.subject.account_id:
        raise InvalidGrantError("the citizen's sign-in session has ended: "
                                "the citizen must sign in again in the app")
    ex.session = session


def check_account(ex: Exchange) -> None:
    assert ex.subject is not None and ex.subject.account_id  # noqa: S101
    account = ex.services.accounts.get(ex.subject.account_id)
    if account is None or account.status != "active":
        raise InvalidGrantError("the citizen's account is not active")
    ex.account = account


def check_acr(ex: Exchange) -> None:
    """The sign-in must reach the target channel's ``min_acr``."""
    assert ex.session is not None  # noqa: S101
    acr = ex.session.acr
    if not ex.services.policies.acr_satisfied(ex.channel, acr):
        minimum = ex.services.policies.policy(ex.channel).min_acr
        raise InvalidGrantError(f"this {ex.channel} client requires assurance level "
                                f"{minimum}; the citizen's sign-in reached {acr or 'none'}")


def check_actor(ex: Exchange) -> None:
    """代办 (§4.1): the actor is a client allowed to act (a counter terminal), or a citizen
    holding an active delegation from the subject citizen (a family member)."""
    value = ex.param("actor_token")
    if not value:
        return
    assert ex.account is not None  # noqa: S101
    services = ex.services
    info = services.tokens.validate_access_token(value)
    if info is None:
        raise InvalidRequestError("actor_token is not a valid access token of this issuer "
                                  "(malformed, expired, revoked or signed by another key)")
    actor_client = services.clients.get(info.client_id)
    if actor_client is None or actor_client.status != "active":
        raise InvalidRequestError("actor_token was issued to a client that is not active")
    if not (services.policies.may_act(actor_client.client_id, actor_client.channel)
            or _delegated(services, ex.account.id, info.account_id)):
        raise InvalidGrantError("the actor may not act for this citizen")
    # The actor as the *requesting* client sees them: a citizen's sub is that client's
    # (public or pairwise, idp.accounts.subjects), a terminal acting alone is its client_id.
    actor_sub = services.subjects.sub_for(info.account_id, ex.client.record) \
        if info.account_id else str(info.claims["sub"])
    ex.act = {"sub": actor_sub, "client_id": actor_client.client_id}


def _delegated(services: Services, citizen_id: str, agent_id: str | None) -> bool:
    if agent_id is None or agent_id == citizen_id:
        return False
    agent = services.accounts.get(agent_id)
    return (agent is not None and agent.status == "active"
            and services.delegations.is_active(citizen_id, agent_id))


def check_scope(ex: Exchange) -> None:
    """Requested scope ⊆ subject token's scope ∩ the client's registered scopes; by default
    that intersection (§2.1: the scope may only narrow)."""
    assert ex.subject is not None  # noqa: S101
    registered = set(ex.client.record.scopes)
    allowed = [s for s in scope_to_list(ex.subject.scope) or [] if s in registered]
    requested = scope_to_list(ex.param("scope")) or []
    if not requested:
        if not allowed:
            raise InvalidScopeError("no scope of the subject_token is registered for this "
                                    "client")
        ex.scope = " ".join(allowed)
        return
    extra = [s for s in dict.fromkeys(requested) if s not in allowed]
    if extra:
        raise InvalidScopeError(f"scope may only narrow the subject_token's scope, within "
                                f"this client's registered scopes; not allowed: "
                                f"{_scope_names(extra)}")
    ex.scope = " ".join(dict.fromkeys(requested))


def _scope_names(scopes: list[str]) -> str:
    """Scope tokens are NQCHAR (RFC 6749 §3.3), safe in an error_description; others are not
    echoed."""
    names = " ".join(s if _NQCHAR.fullmatch(s) else "(malformed)" for s in scopes)
    return names if len(names) <= 200 else names[:197] + "..."


def check_consent(ex: Exchange) -> None:
    """A client that asks consent gets only scopes the citizen already consented to it
    (RFC 6749 §5.2 ``invalid_scope``: exceeds what the resource owner granted). A default
    scope narrows to them; an explicit one beyond them is refused."""
    if ex.client.record.skip_consent:
        return
    assert ex.account is not None  # noqa: S101
    granted = ex.services.consents.granted(ex.account.id, ex.client_id)
    if granted is None:
        raise InvalidScopeError("the citizen has not consented to this client yet: sign "
                                "them in once through the authorization endpoint")
    scopes = scope_to_list(ex.scope) or []
    missing = [s for s in scopes if s not in NON_CONSENT_SCOPES and s not in granted]
    if missing and not ex.param("scope"):
        scopes = [s for s in scopes if s not in missing]
        if not scopes:
            raise InvalidScopeError("the citizen has consented to none of these scopes "
                                    "for this client")
        ex.scope = " ".join(scopes)
    elif missing:
        raise InvalidScopeError("the citizen has not consented to this client for: "
                                + " ".join(missing))


CHECKS: tuple[Check, ...] = (
    check_grant_allowed,
    check_parameters,
    check_target,
    check_subject_token,
    check_exchange_policy,
    check_session,
    check_account,
    check_acr,
    check_actor,
    check_scope,
    check_consent,
)


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    exchange: Exchange | None = None

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        self.request.client = client
        ex = Exchange(services=self.server.services, client=client, form=self.request.form)
        for check in CHECKS:
            try:
                check(ex)
            except OAuth2Error as error:
                self._audit(ex, "token:exchange:refused",
                            {"reason": error.error, "check": check.__name__})
                raise
        self.exchange = ex

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        ex = self.exchange
        assert ex is not None and ex.session is not None  # noqa: S101 — validated first
        assert ex.account is not None  # noqa: S101
        services, session = ex.services, ex.session
        scopes = ex.scope.split()
        token: dict[str, Any] = services.tokens.issue(IssueContext(
            client=ex.client.record, account_id=ex.account.id, scope=ex.scope,
            grant_type=TOKEN_EXCHANGE,
            include_refresh="offline_access" in scopes and ex.act is None,
            sid=session.sid, auth_time=session.auth_time, acr=session.acr,
            amr=tuple(session.amr), act=ex.act))
        self._join_session(ex, session)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        if "openid" in scopes:
            token["id_token"] = self._id_token(ex, session, token["access_token"])
        self._audit(ex, "token:exchange:success",
                    {"scope": ex.scope, "refresh": "refresh_token" in token})
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def _join_session(self, ex: Exchange, session: SsoSession) -> None:
        """Record the client in the session, then make sure the session outlived the issuance:
        a logout that ran meanwhile revoked by ``sid`` before our token row existed."""
        ex.services.sso.add_client(session, ex.client_id, ex.channel)
        if ex.services.sso.get(session.sid) is None:
            ex.services.tokens.revoke_sid(session.sid)
            self._audit(ex, "token:exchange:refused",
                        {"reason": "invalid_grant", "check": "session_ended_while_issuing"})
            raise InvalidGrantError("the citizen's sign-in session has ended: "
                                    "the citizen must sign in again in the app")

    @staticmethod
    def _id_token(ex: Exchange, session: SsoSession, access_token: str) -> str:
        """Same ``sub``, ``sid``, ``auth_time``, ``acr`` and ``amr`` as the subject's session
        (OIDC Core §2); ``aud`` is the requesting client."""
        assert ex.account is not None  # noqa: S101
        claims: dict[str, Any] = {"sub": ex.services.subjects.sub_for(ex.account.id,
                                                                      ex.client.record),
                                  "sid": session.sid, "auth_time": session.auth_time,
                                  "amr": list(session.amr)}
        if session.acr:
            claims["acr"] = AcrNames.of(ex.services.settings.assurance).external(session.acr)
        if ex.act:
            claims["act"] = dict(ex.act)
        return IdTokenSigner(ex.services).encode(ex.client, claims, access_token=access_token)

    @staticmethod
    def _audit(ex: Exchange, tag: str, extra: dict[str, Any]) -> None:
        details = dict(extra)
        if ex.source is not None:
            details["source"] = ex.source.client_id
        if ex.act is not None:
            details["act"] = dict(ex.act)
        subject = ex.subject.account_id if ex.subject is not None else None
        ex.services.audit.record(ex.client_id, tag, subject=subject, client_id=ex.client_id,
                                 extra=details)
