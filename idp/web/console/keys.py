"""Signing keys: the table of every key through its lifecycle (next → active → retired →
removed, or revoked), and the three changes (``keys:manage``):

- **rotate** — pre-publish the next key of each algorithm (or the ones ticked);
- **retire** — take a key out of signing (it stays published until its tokens have expired);
- **revoke** — the emergency: the key leaves the JWKS at once and the tokens it signed are
  revoked; the reason is required.

Retire and revoke ask for the kid to be typed again (``confirm``), so a slip of the mouse
changes nothing. The key service audits each change with the staff member as actor.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from idp.keys.service import SUPPORTED_ALGS
from idp.staff import roles as rbac
from idp.store.models import SigningKey
from idp.web.console import bp
from idp.web.console.access import current_staff, needs
from idp.web.console.messages import _
from idp.web.console.outcome import act, confirmed, text
from idp.web.principal import services

DATES = ("created_at", "activates_at", "activated_at", "retired_at", "remove_after",
         "revoked_at")


def _row(key: SigningKey) -> dict[str, Any]:
    return {"kid": key.kid, "alg": key.alg, "state": key.state,
            **{name: getattr(key, name, None) for name in DATES}}


@bp.get("/keys")
@needs(rbac.KEYS_READ)
def keys() -> ResponseReturnValue:
    rows = [_row(k) for k in services().keys.list_keys()]
    order = {"next": 0, "active": 1, "retired": 2, "revoked": 3, "removed": 4}
    rows.sort(key=lambda r: (order.get(r["state"], 5), r["alg"]))
    return render_template("console/keys.html", keys=rows, algs=SUPPORTED_ALGS)


@bp.post("/keys/rotate")
@needs(rbac.KEYS_MANAGE)
def keys_rotate() -> ResponseReturnValue:
    algs = [a for a in request.form.getlist("alg") if a in SUPPORTED_ALGS] or None

    def change() -> str:
        rows = services().keys.rotate(actor=current_staff().actor, algs=algs)
        fresh = [k.kid for k in rows if k.state == "next"] or [k.kid for k in rows]
        return _("The next keys are published: %(kids)s. They start signing when the "
                 "overlap has passed.", kids=", ".join(fresh))
    return act(change, url_for("console.keys"))


@bp.post("/keys/<kid>/retire")
@needs(rbac.KEYS_MANAGE)
def keys_retire(kid: str) -> ResponseReturnValue:
    def change() -> str:
        confirmed(kid)
        services().keys.retire(kid, actor=current_staff().actor)
        return _("Key %(kid)s is retired: it no longer signs and stays published until the "
                 "tokens it signed have expired.", kid=kid)
    return act(change, url_for("console.keys"))


@bp.post("/keys/<kid>/revoke")
@needs(rbac.KEYS_MANAGE)
def keys_revoke(kid: str) -> ResponseReturnValue:
    def change() -> str:
        confirmed(kid)
        reason = text("reason", required=True)
        result = services().keys.revoke(kid, actor=current_staff().actor, reason=reason)
        message = _("Key %(kid)s is revoked: it left the published keys and %(num)d tokens it "
                    "signed were revoked.", kid=result.kid, num=result.tokens_revoked)
        if result.replacement:
            message += " " + _("Key %(kid)s signs in its place.", kid=result.replacement)
        return message
    return act(change, url_for("console.keys"))
