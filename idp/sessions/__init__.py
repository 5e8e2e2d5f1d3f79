"""SSO sessions across channels (DESIGN.md §2): one ``sid`` for every channel's tokens."""

from idp.sessions.service import SessionService, SsoSession

__all__ = ["SessionService", "SsoSession"]
