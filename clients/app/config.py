"""Settings of the app, from its command-line flags (a phone app would compile them in).

The app is a public client: it has a ``client_id`` and no secret (RFC 8252 §8.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clients.common.settings import ConfigError, check_url

DEFAULT_ISSUER = "http://localhost:5000"
DEFAULT_CLIENT_ID = "demo-app"
DEFAULT_STATE_FILE = "~/.ywtb-app.json"
# offline_access: a refresh token, so the app stays signed in (rotated on every use).
DEFAULT_SCOPE = "openid profile phone offline_access"


@dataclass(frozen=True)
class AppConfig:
    # Issuer identifier of the IdP, no trailing slash; everything else comes from discovery.
    issuer: str = DEFAULT_ISSUER
    # The app's registration: `idp clients create --channel app --redirect-uri
    # http://127.0.0.1/callback` (any port matches it, RFC 8252 §7.3).
    client_id: str = DEFAULT_CLIENT_ID
    # Where the tokens are kept between commands (JSON, mode 0600).
    state_file: Path = Path(DEFAULT_STATE_FILE).expanduser()
    # Scopes asked for at sign-in.
    scope: str = DEFAULT_SCOPE
    # Timeout of each HTTP request, in seconds.
    http_timeout: float = 10.0
    # Accepted clock skew when checking ID tokens, in seconds.
    leeway: int = 60

    def validated(self) -> AppConfig:
        if not self.client_id:
            raise ConfigError("--client-id must not be empty")
        if "openid" not in self.scope.split():
            raise ConfigError("--scope must contain 'openid'")
        if self.http_timeout <= 0:
            raise ConfigError("--http-timeout must be positive")
        return AppConfig(
            issuer=check_url("--issuer", self.issuer),
            client_id=self.client_id,
            state_file=self.state_file.expanduser(),
            scope=self.scope,
            http_timeout=self.http_timeout,
            leeway=self.leeway,
        )
