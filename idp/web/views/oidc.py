"""OIDC endpoints: discovery, JWKS, authorization, token, revocation, introspection, userinfo.
Views stay thin: they parse, call the Authlib server or the pipeline in ``idp.oidc.authorize``,
and render or redirect."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CsrfInvalid

from idp.oidc import acr
from idp.oidc import authorize as pipeline
from idp.oidc.introspection import IntrospectionEndpoint
from idp.oidc.revocation import RevocationEndpoint
from idp.oidc.server import AuthorizationServer
from idp.oidc.userinfo import userinfo_response
from idp.web.errors import error_page
from idp.web.factors import STEP_UP_PAGES, available_factors
from idp.web.principal import services

bp = Blueprint("oidc", __name__)

def N_(text: str) -> str:  # noqa: N802 — marks a string for extraction, translated later
    return text


SCOPE_LABELS = {
    "openid": N_("Your account identifier at this portal"),
    "profile": N_("Your name, gender and date of birth"),
    "phone": N_("Your mobile phone number"),
    "email": N_("Your email address"),
    "address": N_("Your address"),
    "offline_access": N_("Stay signed in to this portal (refresh tokens)"),
    "id_card": N_("Your full citizen ID number"),
}


def _server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions["idp.oauth"]
    return server


def _static(doc: Any, max_age: int) -> Response:
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): a proxy that compressed the
    # body may have turned our strong ETag into W/"...".
    if request.if_none_match.contains_weak(doc.etag.strip('"')):
        resp = Response(status=304)
    else:
        resp = Response(doc.body, content_type="application/json")
    resp.headers["ETag"] = doc.etag
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    return _static(current_app.extensions["idp.discovery"], 3600)


@bp.get("/jwks.json")
def jwks() -> Response:
    ring = services().keys.ring()

    class _Doc:
        body = ring.jwks_bytes
        etag = ring.etag

    # Cache-Control follows [keys] overlap: every RP refetches well before a next key signs.
    return _static(_Doc, services().settings.keys.jwks_max_age)


def _request_key() -> str:
    """Identifies one authorization request (its parameters) across the sign-in detour."""
    items = sorted((k, v) for k, v in request.values.items(multi=True)
                   if k not in ("csrf_token", "decision"))
    return hashlib.sha256(repr(items).encode()).hexdigest()[:24]


# For errors Authlib raises without a description (e.g. prompt=none with nobody signed in).
FALLBACK_DESCRIPTIONS = {
    "login_required": "the citizen is not signed in",
    "consent_required": "the citizen has not consented to this client",
    "interaction_required": "the citizen must interact with the sign-in service",
    "access_denied": "the citizen denied the request",
}


def _error_response(error: OAuth2Error) -> Any:
    description = error.description or FALLBACK_DESCRIPTIONS.get(error.error)
    if error.redirect_uri:
        params = [("error", error.error)]
        if description:
            params.append(("error_description", description))
        if error.state:
            params.append(("state", error.state))
        params.append(("iss", services().settings.issuer))
        return redirect(add_params_to_uri(error.redirect_uri, params), code=302)
    return error_page(400, _("This sign-in request cannot be processed"),
                      _("The portal that sent you here made a request we cannot accept "
                        "(%(detail)s). Go back to the portal and try again, or contact it.",
                        detail=description or error.error), code=error.error)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    svc = services()
    server = _server()
    principal = current_user.principal if current_user.is_authenticated else None
    key = _request_key()
    reauth_at = session.get("reauth", {}).get(key)
    reauth_done = bool(principal and reauth_at and principal.session.auth_time >= reauth_at)
    try:
        grant = server.get_consent_grant(end_user=principal)
        ctx = pipeline.AuthorizationContext(
            grant=grant, client=grant.client, principal=principal, now=time.time(),
            reauth_done=reauth_done, consent_lookup=svc.consents.granted,
            key_set=svc.tokens.verification_keys, issuer=svc.settings.issuer,
            params={k: v for k, v in request.values.items()}, sub_for=svc.subjects.sub_for,
            factors_for=lambda account_id: available_factors(svc, account_id),
            reachable=acr.reachable(face=svc.face.enabled),
            acr_names=acr.AcrNames.of(svc.settings.assurance))
        outcome = pipeline.run(ctx)
        decision = request.form.get("decision") if request.method == "POST" else None
        if decision is not None and outcome.action in ("consent", "issue"):
            return _consent_decision(grant, ctx, decision)
    except OAuth2Error as error:
        return _error_response(error)
    if outcome.action == "login":
        if outcome.reason in ("prompt_login", "max_age", "id_token_hint"):
            pending = dict(session.get("reauth", {}))
            pending[key] = int(time.time())
            session["reauth"] = dict(list(pending.items())[-5:])
        return redirect(url_for("auth.login", next=_resume_url(), client=grant.client.client_id,
                                login_hint=request.values.get("login_hint"),
                                ui_locales=request.values.get("ui_locales")))
    if outcome.action == "step_up":  # the missing factor only: the password stands
        return redirect(url_for(STEP_UP_PAGES[outcome.reason], next=_resume_url(),
                                client=grant.client.client_id, acr=outcome.reason))
    if outcome.action == "factor_missing":
        return render_template("second_factor_needed.html", client=grant.client.record,
                               level=outcome.reason), 403
    if outcome.action == "consent":
        # The ID number is shown masked only (DESIGN.md §4), with who will receive it in full.
        masked = principal.account.id_number_masked \
            if principal is not None and "id_card" in outcome.scopes else None
        return render_template("consent.html", client=grant.client.record,
                               scopes=[(s, _(SCOPE_LABELS.get(s, s))) for s in outcome.scopes],
                               id_number_masked=masked,
                               params=request.values, action=_resume_url())
    return _issue(grant, principal)


def _resume_url() -> str:
    if request.method == "GET":
        return request.full_path.rstrip("?")
    # Encoded by hand: as url_for() keywords, parameters named endpoint, _external or _anchor
    # would be taken as its own arguments.
    query = [(k, v) for k, v in request.form.items(multi=True)
             if k not in ("csrf_token", "decision")]
    return url_for("oidc.authorize") + ("?" + urlencode(query) if query else "")


def _consent_decision(grant: Any, ctx: pipeline.AuthorizationContext, decision: str) -> Any:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except CsrfInvalid:
        abort(400)
    principal = ctx.principal
    assert principal is not None  # noqa: S101
    if decision != "allow":
        services().audit.record(principal.account.id, "consent:deny",
                                subject=principal.account.id, client_id=grant.client.client_id)
        _forget_reauth()
        return _server().create_authorization_response(grant=grant, grant_user=None)
    scopes = set(grant.client.get_allowed_scope(ctx.params.get("scope", "")).split())
    services().consents.grant(principal.account.id, grant.client.client_id,
                              scopes - pipeline.NON_CONSENT_SCOPES)
    services().audit.record(principal.account.id, "consent:grant", subject=principal.account.id,
                            client_id=grant.client.client_id, extra={"scopes": sorted(scopes)})
    return _issue(grant, principal)


def _issue(grant: Any, principal: Any) -> Any:
    svc = services()
    svc.sso.add_client(principal.session, grant.client.client_id, grant.client.record.channel)
    _forget_reauth()
    return _server().create_authorization_response(grant=grant, grant_user=principal)


def _forget_reauth() -> None:
    """A sign-in demanded by prompt=login, max_age or id_token_hint answers its request once:
    the same request sent again must ask again."""
    pending = session.get("reauth") or {}
    key = _request_key()
    if key in pending:
        session["reauth"] = {k: v for k, v in pending.items() if k != key}


@bp.post("/token")
def token() -> Any:
    return _server().create_token_response()


@bp.post("/revoke")
def revoke() -> Any:
    """RFC 7009 (idp.oidc.revocation)."""
    return _server().create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)


@bp.post("/introspect")
def introspect() -> Any:
    """RFC 7662 (idp.oidc.introspection)."""
    return _server().create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    status, body, headers = userinfo_response(
        services(), request.method, cast(Mapping[str, str], request.headers),
        request.content_type or "", request.form)
    resp = Response(body, status=status)
    for name, value in headers:
        resp.headers[name] = value
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
