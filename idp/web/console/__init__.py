"""The security staff console (issue 6 §2): server-rendered pages in zh-CN and English under
``/console``, one module per job.

- :mod:`.access` — the console's own sign-in state (the ``idp_console`` cookie, never the
  citizens' Flask-Login session), :func:`~.access.needs` on every view (RBAC is decided only by
  :mod:`idp.staff.roles`), the navigation a role may see, the 403 page, no-store headers;
- :mod:`.outcome` — form fields, POST-redirect-GET with a flashed result, error wording;
- :mod:`.auth` (sign-in with password + TOTP, sign-out), :mod:`.me` (the overview and each
  member's own API tokens), :mod:`.keys`, :mod:`.clients`, :mod:`.initial_tokens`,
  :mod:`.citizens`, :mod:`.audit`, :mod:`.staff` (staff accounts).

Views are thin: parse the form, call one domain service with the staff member as the audited
actor, then render or redirect. Every form carries the CSRF token (Flask-WTF's CSRFProtect
checks every POST); secrets (a client secret, an initial access token, an API token, a TOTP
enrolment) are shown once, in the answer to the POST that made them, never in a URL, a flash
message or a log.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console")


def register(app: Flask) -> None:
    """Bind the console's views (imported for their routes) to ``app``."""
    from idp.web.console import (  # noqa: F401 — imported for their routes
        access,
        audit,
        auth,
        citizens,
        clients,
        initial_tokens,
        keys,
        me,
        staff,
    )

    app.register_blueprint(bp)
