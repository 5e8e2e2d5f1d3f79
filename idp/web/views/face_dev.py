"""The capture page of :class:`~idp.accounts.face.LocalFaceVerifier`, the development stand-in
for the face service: registered only while ``[face] backend = "local"`` (which production
refuses). It shows whose face would be checked (name, masked ID number) and lets the developer
choose the outcome, then sends the browser back to the return URL, as the service would."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request

from idp.accounts.face import LocalFaceVerifier
from idp.web.principal import services

bp = Blueprint("face_dev", __name__)


def _verifier() -> LocalFaceVerifier:
    verifier = services().face.verifier
    if not isinstance(verifier, LocalFaceVerifier):
        abort(404)
    return verifier


@bp.route("/dev/face/<check_id>", methods=["GET", "POST"])
def capture(check_id: str) -> Any:
    verifier = _verifier()
    pending = verifier.pending(check_id)
    if pending is None:
        abort(404)
    if request.method == "GET":
        return render_template("face_dev.html", check_id=check_id, name=pending["name"],
                               id_number_masked=pending["id_number_masked"])
    back = verifier.record(check_id, request.form.get("outcome") == "match")
    if back is None:
        abort(404)
    return redirect(back)
