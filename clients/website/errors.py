"""The one error type the portal shows to people: a stable code and a message in zh-CN and en.

Views never let an exception through as a traceback; anything that can go wrong in a sign-in
is raised as a :class:`PortalError` (or a subclass) and rendered by the error page.
"""

from __future__ import annotations


class PortalError(Exception):
    """``code`` is stable (logs, tests); ``en`` / ``zh`` are for the page and never hold secrets."""

    status = 400

    def __init__(self, code: str, en: str, zh: str, *, status: int | None = None) -> None:
        super().__init__(f"{code}: {en}")
        self.code = code
        self.en = en
        self.zh = zh
        if status is not None:
            self.status = status
