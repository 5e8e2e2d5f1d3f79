"""Relying parties: the list (pending registrations first, filter by status), one client's page
(metadata, edit, approve, suspend/resume, delete, new secret, the ``id_card`` and in-person
permissions). Reading needs ``clients:read``; every change ``clients:manage``.

The client service checks each change as at registration and audits it with the staff member
as actor. A new secret is shown once, in the answer to its POST; the old one keeps working for
the grace period given. Secret digests, registration-token digests and the rest of a client's
``extra`` are never shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from idp.clients import CHANNEL_NAMES, ClientRecord
from idp.clients.service import KNOWN_SCOPES, STATUSES
from idp.errors import IdpError, NotFound
from idp.staff import roles as rbac
from idp.web.account_labels import channel_label
from idp.web.console import bp
from idp.web.console.access import current_staff, needs
from idp.web.console.messages import _, describe
from idp.web.console.outcome import act, confirmed, done, failed, lines, number
from idp.web.principal import services

MAX_GRACE = 30 * 86400


def _client(client_id: str) -> ClientRecord:
    clients = services().clients
    clients.invalidate(client_id)  # staff see the database, not this node's cache
    found = clients.get(client_id)
    if found is None:
        raise NotFound(f"no client {client_id}", code="client.not_found")
    return found


def _view(client: ClientRecord) -> dict[str, Any]:
    previous = client.extra.get("previous_secret") or {}
    until = float(previous.get("until", 0) or 0)
    return {"client_id": client.client_id, "name": client.name, "channel": client.channel,
            "channel_label": channel_label(client.channel), "status": client.status,
            "client_type": client.client_type, "redirect_uris": client.redirect_uris,
            "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "scopes": client.scopes, "grant_types": client.grant_types,
            "skip_consent": client.skip_consent,
            "auth_method": client.token_endpoint_auth_method,
            "id_card_allowed": bool(client.extra.get("id_card_allowed")),
            "in_person_allowed": bool(client.extra.get("in_person_check")),
            "old_secret_until": until if until > time.time() else None}


@bp.get("/clients")
@needs(rbac.CLIENTS_READ)
def clients() -> ResponseReturnValue:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(404)
    order = {s: i for i, s in enumerate(STATUSES)}  # pending first
    found = sorted(services().clients.list(status=status),
                   key=lambda c: order.get(c.status, len(order)))
    return render_template("console/clients.html", clients=[_view(c) for c in found],
                           status=status, statuses=STATUSES)


def _page(client: ClientRecord, *, form: dict[str, Any] | None = None, error: str | None = None,
          status: int = 200) -> ResponseReturnValue:
    return render_template("console/client.html", client=_view(client), form=form,
                           error=error, channels=CHANNEL_NAMES, known_scopes=KNOWN_SCOPES,
                           grace_max=MAX_GRACE), status


@bp.get("/clients/<client_id>")
@needs(rbac.CLIENTS_READ)
def client(client_id: str) -> ResponseReturnValue:
    return _page(_client(client_id))


@bp.post("/clients/<client_id>/edit")
@needs(rbac.CLIENTS_MANAGE)
def client_edit(client_id: str) -> ResponseReturnValue:
    current = _client(client_id)
    form: dict[str, Any] = {
        "name": request.form.get("name", "")[:200], "channel": request.form.get("channel"),
        "redirect_uris": lines("redirect_uris"),
        "post_logout_redirect_uris": lines("post_logout_redirect_uris"),
        "scopes": tuple(s for s in request.form.getlist("scope") if s in KNOWN_SCOPES),
        "skip_consent": request.form.get("skip_consent") == "yes"}
    try:
        services().clients.update(
            client_id, actor=current_staff().actor, name=form["name"], channel=form["channel"],
            redirect_uris=form["redirect_uris"],
            post_logout_redirect_uris=form["post_logout_redirect_uris"], scopes=form["scopes"],
            skip_consent=form["skip_consent"])
    except IdpError as exc:
        return _page(current, form=form, error=describe(exc), status=400)
    return done(_("The client's settings were saved."),
                url_for("console.client", client_id=client_id))


def _change(client_id: str, run: Callable[[], object], message: str) -> ResponseReturnValue:
    def change() -> str:
        run()
        return message
    return act(change, url_for("console.client", client_id=client_id))


@bp.post("/clients/<client_id>/approve")
@needs(rbac.CLIENTS_MANAGE)
def client_approve(client_id: str) -> ResponseReturnValue:
    return _change(client_id, lambda: services().clients.approve(
        client_id, actor=current_staff().actor),
        _("The client is approved: it may now sign citizens in."))


@bp.post("/clients/<client_id>/suspend")
@needs(rbac.CLIENTS_MANAGE)
def client_suspend(client_id: str) -> ResponseReturnValue:
    return _change(client_id, lambda: services().clients.set_status(
        client_id, "suspended", actor=current_staff().actor),
        _("The client is suspended: no sign-ins, no tokens."))


@bp.post("/clients/<client_id>/resume")
@needs(rbac.CLIENTS_MANAGE)
def client_resume(client_id: str) -> ResponseReturnValue:
    return _change(client_id, lambda: services().clients.set_status(
        client_id, "active", actor=current_staff().actor), _("The client is active again."))


@bp.post("/clients/<client_id>/permissions")
@needs(rbac.CLIENTS_MANAGE)
def client_permissions(client_id: str) -> ResponseReturnValue:
    def run() -> None:
        svc, who = services().clients, current_staff().actor
        svc.set_id_card_allowed(client_id, request.form.get("id_card") == "yes", actor=who)
        svc.set_in_person_allowed(client_id, request.form.get("in_person") == "yes", actor=who)
    return _change(client_id, run, _("The client's permissions were saved."))


@bp.post("/clients/<client_id>/delete")
@needs(rbac.CLIENTS_MANAGE)
def client_delete(client_id: str) -> ResponseReturnValue:
    try:
        confirmed(client_id)
        services().clients.delete(client_id, actor=current_staff().actor)
    except IdpError as exc:
        return failed(exc, url_for("console.client", client_id=client_id))
    return done(_("Client %(id)s was deleted, with its tokens and consents.", id=client_id),
                url_for("console.clients"))


@bp.post("/clients/<client_id>/rotate-secret")
@needs(rbac.CLIENTS_MANAGE)
def client_rotate_secret(client_id: str) -> ResponseReturnValue:
    back = url_for("console.client", client_id=client_id)
    try:
        grace = number("grace", low=0, high=MAX_GRACE, default=0)
        record, secret = services().clients.rotate_secret(client_id, grace=grace,
                                                          actor=current_staff().actor)
    except IdpError as exc:
        return failed(exc, back)
    return render_template(
        "console/secret.html", title=_("New client secret"), label=_("Client secret"),
        value=secret, subject=record.client_id,
        note=_("The old secret keeps working for %(num)d seconds.", num=grace) if grace
        else _("The old secret no longer works."), back=back)
