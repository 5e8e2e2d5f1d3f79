"""The citizen's home page (the account centre grows here with the session-lifecycle work)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

bp = Blueprint("account", __name__)


@bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("home.html", account=current_user.account,
                           session=current_user.principal.session)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
