"""``make bench``: our IdP against node-oidc-provider on the same machine, endpoint by endpoint
(``python -m bench.compare``; docs/performance.md)."""
