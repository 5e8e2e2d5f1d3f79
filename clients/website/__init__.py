"""示例部门门户 / Demo department portal: the OIDC relying party example for department websites.

Run it with ``python -m clients.website`` (see ``docs/channels/website.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import PortalConfig
    from .portal import create_app

__all__ = ["PortalConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """Loaded on first use (PEP 562): :mod:`clients.common` imports this package's ``errors``
    and ``tokens``, and the portal imports :mod:`clients.common`, so importing the portal here
    would make ``import clients.common.errors`` circular."""
    if name == "create_app":
        from .portal import create_app

        return create_app
    if name == "PortalConfig":
        from .config import PortalConfig

        return PortalConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
