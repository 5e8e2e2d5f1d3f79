"""Reading the console's forms, and POST-redirect-GET with the outcome flashed.

A change is posted, made by one service call, and answered with a redirect to the page it was
made from; the outcome (done, or what went wrong and that nothing changed) is flashed there.
Flashed text lives in the signed session cookie: it never holds a secret. Secrets are shown in
the answer to their POST (``render_template`` with ``Cache-Control: no-store``), once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import qrcode
import qrcode.image.svg
from flask import flash, redirect, request
from werkzeug.wrappers import Response

from idp.errors import Forbidden, IdpError, ValidationError
from idp.web.account_labels import LOCAL_TIME
from idp.web.console.messages import describe

DONE = "console"  # flash categories: the templates style each
FAILED = "console-error"


def text(name: str, *, limit: int = 200, required: bool = False, code: str = "console.reason"
         ) -> str:
    """A single-line form field, trimmed; ``required``: ValidationError when empty or too long."""
    value = " ".join(request.form.get(name, "").split())
    if len(value) > limit or (required and not value):
        raise ValidationError(f"{name} must be 1-{limit} characters", code=code)
    return value


def lines(name: str, *, limit: int = 20) -> tuple[str, ...]:
    """A textarea of one value per line (blank lines dropped)."""
    values = [v.strip() for v in request.form.get(name, "")[:8000].splitlines()]
    return tuple(v for v in values if v)[:limit]


def number(name: str, *, low: int, high: int, default: int | None = None) -> int:
    raw = request.form.get(name, "").strip()
    if not raw and default is not None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}",
                              code="console.number")
    return int(raw)


def confirmed(expected: str) -> None:
    """The form's ``confirm`` field repeats ``expected`` (a kid, a client ID); else nothing
    is done."""
    if request.form.get("confirm", "").strip() != expected:
        raise ValidationError("type the identifier to confirm", code="console.confirm")


def done(message: str, back: str) -> Response:
    flash(message, DONE)
    return redirect(back)


def failed(exc: IdpError, back: str) -> Response:
    """What went wrong, in the page's language, flashed on ``back``."""
    flash(describe(exc), FAILED)
    return redirect(back)


def act(change: Callable[[], str], back: str) -> Response:
    """Make ``change`` (it returns the sentence that says what was done), flash the outcome,
    and redirect to ``back``. Domain errors are flashed in the page's language; Forbidden is
    left to the 403 page."""
    try:
        message = change()
    except Forbidden:
        raise
    except IdpError as exc:
        return failed(exc, back)
    return done(message, back)


def when(value: datetime | float | str | None, *, seconds: bool = False) -> str:
    """A time in China Standard Time, ``2026-11-26 08:00`` (``:ss`` with ``seconds``), from a
    datetime (naive: UTC, as SQLite returns it), Unix seconds or an ISO 8601 string."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return when(parsed, seconds=seconds)
    moment = (datetime.fromtimestamp(value, LOCAL_TIME) if isinstance(value, int | float)
              else value if value.tzinfo else value.replace(tzinfo=UTC))
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S" if seconds
                                                  else "%Y-%m-%d %H:%M")


def qr_data_uri(content: str) -> str:
    """A QR code as an SVG data URI (CSP ``img-src`` allows ``data:``), as the account centre
    draws a citizen's TOTP enrolment."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10,
                         border=4, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(content)
    code.make(fit=True)
    return "data:image/svg+xml;base64," + base64.b64encode(code.make_image().to_string()).decode()
