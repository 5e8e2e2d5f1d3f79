"""示例部门门户 / Demo department portal: the OIDC relying party example for department websites.

Run it with ``python -m clients.website`` (see ``docs/channels/website.md``).
"""

from __future__ import annotations

from .config import PortalConfig
from .portal import create_app

__all__ = ["PortalConfig", "create_app"]
