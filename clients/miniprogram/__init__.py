"""一网通办小程序后端 (reference) — a mini-program's backend that joins the app's sign-in.

The mini-program hands the citizen app's access token to this backend, which trades it at the
IdP for tokens of its own by OAuth 2.0 Token Exchange (RFC 8693), checks them, and starts its
own session for the same citizen and ``sid``. Run ``python -m clients.miniprogram --config
FILE.json``; see ``docs/channels/app.md``.
"""

from __future__ import annotations

from .backend import create_app
from .config import MiniProgramConfig

__all__ = ["MiniProgramConfig", "create_app"]
