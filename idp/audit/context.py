"""Who is on the other end of the request being served, for audit entries.

The web layer sets :data:`request_ip` at the start of every request (``idp.web.app``); an audit
entry recorded without an explicit ``ip`` takes it from here, so a staff member's action in the
console or the admin API carries the staff member's address even though the domain services it
calls (which never see a request) do not pass one. Outside a request (the CLI) it is None.
"""

from __future__ import annotations

from contextvars import ContextVar

request_ip: ContextVar[str | None] = ContextVar("idp_audit_request_ip", default=None)
