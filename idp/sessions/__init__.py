"""SSO sessions across channels (DESIGN.md §2): one ``sid`` for every channel's tokens."""

from idp.sessions.ending import SessionEnding, session_ref
from idp.sessions.service import SessionService, SsoSession

__all__ = ["SessionEnding", "SessionService", "SsoSession", "session_ref"]
