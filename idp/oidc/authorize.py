"""The authorization request pipeline (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 9700).

Reading :data:`STEPS` tells the order of the checks. Authlib validates the protocol (client,
exact redirect URI, response type, scope, PKCE syntax, prompt); our steps add policy. Each step
either returns ``None`` (go on) or an :class:`Outcome` (stop: sign in, ask consent), or raises an
Authlib ``OAuth2Error`` — redirected to the client only once the redirect URI is known to be
registered, otherwise shown as an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, scope_to_list
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc import acr
from idp.oidc.claims_request import MalformedClaimsRequest, parse_claims_request
from idp.oidc.errors import UnmetAuthenticationRequirementsError
from idp.oidc.id_card import ID_CARD_SCOPE, SENSITIVE_SCOPES, id_card_allowed
from idp.oidc.models import OAuthClient, Principal

NON_CONSENT_SCOPES = {"openid"}


@dataclass
class AuthorizationContext:
    grant: Any
    client: OAuthClient
    principal: Principal | None
    now: float
    reauth_done: bool
    consent_lookup: Callable[[str, str], set[str] | None]
    key_set: Callable[[], KeySet]
    issuer: str
    params: dict[str, str] = field(default_factory=dict)
    # The factors (RFC 8176 amr values) this account can present now — a confirmed TOTP, an
    # SMS code while [sms] is on, … (idp.web.factors) — for step-up (check_acr).
    factors_for: Callable[[str], set[str]] = lambda account_id: set()
    # The levels a browser sign-in can reach in this deployment (idp.oidc.acr.reachable).
    reachable: tuple[str, ...] = acr.REACHABLE
    # The configured acr names ([assurance]) the request's values are in.
    acr_names: acr.AcrNames = acr.DEFAULT_NAMES
    # The citizen's ``sub`` as a client sees it (idp.accounts.subjects: public or pairwise),
    # to compare with an id_token_hint's.
    sub_for: Callable[[str, Any], str] = lambda account_id, client: account_id

    @property
    def prompts(self) -> list[str]:
        return (self.params.get("prompt") or "").split()

    def error(self, cls: type[Any], description: str) -> Any:
        return cls(description=description, redirect_uri=self.grant.redirect_uri,
                   state=self.params.get("state"))


@dataclass(frozen=True)
class Outcome:
    action: str  # "login" | "step_up" | "factor_missing" | "consent" | "issue"
    scopes: tuple[str, ...] = ()
    reason: str = ""


Step = Callable[[AuthorizationContext], Outcome | None]


def check_request_object(ctx: AuthorizationContext) -> Outcome | None:
    """Request objects are not supported (discovery says so): refuse them rather than act on
    the outer parameters alone (OIDC Core §6, §3.1.2.6; RFC 9101 §5)."""
    if "request" in ctx.params:
        raise ctx.error(RequestNotSupportedError,
                        "request objects are not supported; send the parameters in the query")
    if "request_uri" in ctx.params:
        raise ctx.error(RequestURINotSupportedError,
                        "request_uri is not supported; send the parameters in the query")
    return None


def check_pkce(ctx: AuthorizationContext) -> Outcome | None:
    """Public clients must use PKCE with S256 (RFC 9700 §2.1.1, RFC 8252 §8.1)."""
    challenge = ctx.params.get("code_challenge")
    if not challenge and ctx.client.policies.pkce_required(ctx.client.record.channel):
        kind = "public clients" if ctx.client.record.is_public else \
            f"{ctx.client.record.channel} clients"
        raise ctx.error(InvalidRequestError,
                        f"{kind} must send code_challenge with code_challenge_method=S256")
    # RFC 7636 §4.3 defaults a missing method to "plain", which we do not support (RFC 9700
    # §2.1.1): say so at once rather than fail later at the token endpoint.
    if challenge and ctx.params.get("code_challenge_method") != "S256":
        raise ctx.error(InvalidRequestError, "code_challenge_method must be S256 "
                        "(plain and a missing method are not supported)")
    return None


def check_claims_request(ctx: AuthorizationContext) -> Outcome | None:
    """The ``claims`` parameter must be a JSON object of the Core §5.5 shape
    (:mod:`idp.oidc.claims_request`); it is read again when the tokens are issued."""
    try:
        parse_claims_request(ctx.params.get("claims"))
    except MalformedClaimsRequest as error:
        raise ctx.error(InvalidRequestError, str(error)) from None
    return None


def check_id_card(ctx: AuthorizationContext) -> Outcome | None:
    """The ``id_card`` scope (the citizen ID number in clear) only for clients staff allowed
    it (:mod:`idp.oidc.id_card`): refused outright rather than silently dropped, so the portal
    learns why it gets no number."""
    if ID_CARD_SCOPE in (scope_to_list(ctx.params.get("scope", "")) or []) and \
            not id_card_allowed(ctx.client.record):
        raise ctx.error(InvalidScopeError,
                        "this client is not permitted to request the id_card scope (the "
                        "citizen ID number); the identity service's staff must allow it first")
    return None


def check_max_age(ctx: AuthorizationContext) -> Outcome | None:
    raw = ctx.params.get("max_age")
    if raw is None or raw == "":
        return None
    try:
        max_age = int(raw)
        if max_age < 0:
            raise ValueError(raw)
    except ValueError:
        raise ctx.error(InvalidRequestError, "max_age must be a non-negative integer") from None
    if ctx.principal is None or ctx.reauth_done:
        return None
    if ctx.now - ctx.principal.session.auth_time > max_age:
        if "none" in ctx.prompts:
            raise ctx.error(LoginRequiredError, "the sign-in is older than max_age")
        return Outcome("login", reason="max_age")
    return None


def check_id_token_hint(ctx: AuthorizationContext) -> Outcome | None:
    hint = ctx.params.get("id_token_hint")
    if not hint:
        return None
    try:
        decoded = jwt.decode(hint, ctx.key_set(), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError):
        raise ctx.error(InvalidRequestError, "id_token_hint is not an ID token issued here"
                        ) from None
    claims = decoded.claims
    if claims.get("iss") != ctx.issuer:
        raise ctx.error(InvalidRequestError, "id_token_hint was issued by another issuer")
    if ctx.principal is not None and claims.get("sub") != ctx.sub_for(
            ctx.principal.account.id, ctx.client.record):
        if "none" in ctx.prompts:
            raise ctx.error(LoginRequiredError,
                            "the signed-in citizen is not the one named by id_token_hint")
        return Outcome("login", reason="id_token_hint")
    return None


def check_login(ctx: AuthorizationContext) -> Outcome | None:
    if ctx.principal is None:
        if "none" in ctx.prompts:
            raise ctx.error(LoginRequiredError, "the citizen is not signed in")
        return Outcome("login", reason="no_session")
    if "login" in ctx.prompts and not ctx.reauth_done:
        return Outcome("login", reason="prompt_login")
    return None


def check_consent(ctx: AuthorizationContext) -> Outcome | None:
    scopes = tuple(scope_to_list(ctx.client.get_allowed_scope(ctx.params.get("scope", ""))))
    wanted = {s for s in scopes if s not in NON_CONSENT_SCOPES}
    # First-party portals (--skip-consent) skip it for non-sensitive scopes only: the ID
    # number (id_card) always needs the citizen's own consent (issue 5 §6).
    if ctx.client.record.skip_consent and "consent" not in ctx.prompts:
        wanted &= SENSITIVE_SCOPES
        if not wanted:
            return None
    assert ctx.principal is not None  # noqa: S101 — check_login ran first
    granted = ctx.consent_lookup(ctx.principal.account.id, ctx.client.get_client_id())
    # No consent record at all: ask, even for `openid` alone (it releases an identifier).
    if "consent" in ctx.prompts or granted is None or not wanted <= granted:
        if "none" in ctx.prompts:
            raise ctx.error(ConsentRequiredError, "the citizen has not consented to this client")
        return Outcome("consent", scopes=scopes)
    return None


def check_acr(ctx: AuthorizationContext) -> Outcome | None:
    """The sign-in must reach the level the request needs (:func:`idp.oidc.acr.needed`: the
    channel's ``min_acr``, ``acr_values``, an ``acr`` claim in ``claims``). Below it, a citizen
    who can present the missing factors steps up in this session, one level at a time
    (``step_up`` with the next level: L1 → L2 the second factor, L2 → L3 face verification; the
    password is not asked again); one who cannot is told to set a factor up
    (``factor_missing``). Voluntary levels (``acr_values``, a non-essential claim) are aimed for
    but never block: what was achieved is issued."""
    assert ctx.principal is not None  # noqa: S101 — check_login ran first
    channel = ctx.client.record.channel
    try:
        need = acr.needed(ctx.params, ctx.client.policies.policy(channel).min_acr,
                          ctx.reachable, ctx.acr_names)
    except acr.MalformedClaims as error:
        raise ctx.error(InvalidRequestError, str(error)) from None
    achieved = ctx.principal.session.acr
    if need.unreachable is not None:
        raise ctx.error(UnmetAuthenticationRequirementsError, need.unreachable)
    if acr.rank(achieved) >= acr.rank(need.wanted):
        return None
    path = acr.steps(achieved, need.wanted)
    factors = ctx.factors_for(ctx.principal.account.id)
    missing = acr.missing_steps(path, factors)
    if not missing and "none" not in ctx.prompts:
        return Outcome("step_up", reason=path[0])
    if acr.rank(achieved) >= acr.rank(need.required):
        return None
    if not missing:  # prompt=none: the citizen could, but only interactively
        raise ctx.error(InteractionRequiredError,
                        f"assurance level {ctx.acr_names.external(need.required)} needs the "
                        f"citizen to present another factor")
    if "none" in ctx.prompts:
        raise ctx.error(UnmetAuthenticationRequirementsError,
                        f"this request requires assurance level "
                        f"{ctx.acr_names.external(need.required)}; the sign-in reached "
                        f"{ctx.acr_names.external(achieved) or 'none'} and the citizen has no "
                        f"second factor")
    return Outcome("factor_missing", reason=missing[0])


STEPS: tuple[Step, ...] = (
    check_request_object,
    check_pkce,
    check_claims_request,
    check_id_card,
    check_max_age,
    check_id_token_hint,
    check_login,
    check_acr,
    check_consent,
)


def run(ctx: AuthorizationContext) -> Outcome:
    for step in STEPS:
        outcome = step(ctx)
        if outcome is not None:
            return outcome
    return Outcome("issue")
