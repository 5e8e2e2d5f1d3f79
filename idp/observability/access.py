"""Who may read ``/metrics``: a scraper on an allowed address, or one with the bearer token.

Metrics tell how many people sign in, how often they fail and which clients are busy: not for
the world. The rules (``[metrics]``, docs/observability.md), in order:

1. A request that presents an ``Authorization`` header is judged by it alone: admitted only when
   it is ``Bearer <metrics.token>`` (compared in constant time) and a token is configured.
2. Otherwise its address must be in ``metrics.allow`` (addresses or CIDR networks) — unless it
   came through a proxy we were not told to trust (``proxy_hops = 0`` and a forwarding header):
   then the address is the proxy's, and the request is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from idp.config.settings import MetricsSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple[Network, ...]
    token: str = ""

    @classmethod
    def of(cls, settings: MetricsSettings) -> MetricsAccess:
        """From validated settings (:func:`idp.config.loader.validate`)."""
        return cls(tuple(ipaddress.ip_network(entry, strict=False) for entry in settings.allow),
                   settings.token)

    def admits(self, remote_addr: str | None, authorization: str | None, *,
               via_untrusted_proxy: bool = False) -> bool:
        if authorization is not None:
            return self._token_matches(authorization)
        if via_untrusted_proxy or not remote_addr:
            return False
        try:
            address = ipaddress.ip_address(remote_addr.split("%", 1)[0])  # no IPv6 zone id
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def _token_matches(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        if not self.token or scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())
