"""OpenID Connect Front-Channel Logout 1.0: which portals the browser tells, at which URLs.

- §2 (RP registration): a client registers a ``frontchannel_logout_uri``
  (``idp clients create --frontchannel-logout-uri URI``; checked like a redirect URI: https, or
  http to loopback in development). It may carry a query of its own; we keep it and add ``iss``
  and ``sid`` ("if either is included, both MUST be").
- §3 (OP metadata): discovery advertises ``frontchannel_logout_supported`` and
  ``frontchannel_logout_session_supported``, so ``iss`` and ``sid`` are always sent, whether
  or not the client registered ``frontchannel_logout_session_required``.
- §4 (OP logout): the page that ends the session renders one ``<iframe src=…>`` per RP the
  End-User was logged in to. Here that is every client recorded in the ended
  :class:`~idp.sessions.service.SsoSession` that is still registered and active and has a
  ``frontchannel_logout_uri``; each URL once.

:func:`logout_frames` returns ``(url, origin)`` pairs: the iframe URLs, and the origins the
page's CSP ``frame-src`` must allow. A URI whose origin cannot be written safely into a CSP
header (an unusual host, credentials, a bad port, a scheme other than http/https) gets no frame.
Framework-free: ``idp.web.session_end`` renders the page.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from idp.clients.service import ClientRecord
from idp.sessions.service import SsoSession

SESSION_PARAMS = ("iss", "sid")  # §2: what we add; the client's own values are replaced
DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
_HOST_IPV6 = re.compile(r"^[0-9a-f:.]{2,45}$")


class LogoutFrame(NamedTuple):
    url: str  # frontchannel_logout_uri with iss and sid
    origin: str  # scheme://host[:port], for the CSP frame-src of the page


class _Clients(Protocol):
    def get(self, client_id: str) -> ClientRecord | None: ...


def logout_frames(session: SsoSession | None, clients: _Clients, *,
                  issuer: str) -> list[LogoutFrame]:
    """The frames for an ended session, in the order the clients joined it."""
    if session is None:
        return []
    frames: dict[str, LogoutFrame] = {}
    for client_id in session.clients:
        record = clients.get(client_id)
        uri = record.frontchannel_logout_uri if record and record.status == "active" else None
        origin = origin_of(uri) if uri else None
        if uri is None or origin is None:
            continue
        url = logout_url(uri, issuer=issuer, sid=session.sid)
        frames.setdefault(url, LogoutFrame(url, origin))
    return list(frames.values())


def logout_url(uri: str, *, issuer: str, sid: str) -> str:
    """``uri`` with ``iss`` and ``sid`` appended to its query (kept as registered, minus any
    ``iss``/``sid`` of its own), without a fragment."""
    parts = urlsplit(uri)
    kept = [p for p in parts.query.split("&")
            if p and unquote_plus(p.split("=", 1)[0]) not in SESSION_PARAMS]
    query = "&".join([*kept, urlencode({"iss": issuer, "sid": sid})])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def origin_of(uri: str) -> str | None:
    """The serialised origin of ``uri`` (RFC 6454 §6.2: default port left out), or None when
    it is not an http(s) URL with a plain host that is safe to write into a CSP header."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:  # a bad port, or a malformed IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        if not _HOST_IPV6.match(host):
            return None
        host = f"[{host}]"
    elif not _HOST_NAME.match(host):
        return None
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, DEFAULT_PORTS[scheme]) else "")
