"""一网通办 App (reference client) — the citizen's app as a command-line program.

A public native client (RFC 8252): authorization code + PKCE S256 through a loopback redirect,
refresh-token rotation, and the citizen's authenticator for QR sign-ins, counter terminals
(device codes) and mini-programs (token exchange). Run ``python -m clients.app --help``; the
integration guide is ``docs/channels/app.md``.
"""

from __future__ import annotations
