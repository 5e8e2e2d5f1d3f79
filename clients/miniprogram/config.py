"""Settings of the mini-program backend, loaded once and frozen.

Sources, later ones winning: the defaults below, ``MINIPROGRAM_*`` environment variables, the
JSON file named by ``--config`` (same keys in lower case, no prefix), ``--host`` / ``--port``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from clients.common.settings import ConfigError, check_url, load_settings

ENV_PREFIX = "MINIPROGRAM_"


@dataclass(frozen=True)
class MiniProgramConfig:
    # Issuer identifier of the IdP, no trailing slash; endpoints come from discovery.
    issuer: str = "http://localhost:5000"
    # Credentials of `idp clients create --channel miniprogram …` (a confidential client; the
    # secret authenticates the token exchange with client_secret_basic). Required.
    client_id: str = ""
    client_secret: str = ""
    # Where `python -m clients.miniprogram` listens.
    host: str = "127.0.0.1"
    port: int = 5002
    # Scopes asked for in the exchange: at most those of the app's token (RFC 8693 §2.1).
    scope: str = "openid profile phone"
    # How long a backend session lasts, in seconds.
    session_ttl: int = 3600
    # Accepted clock skew for exp / iat, in seconds.
    leeway: int = 60
    # How long the IdP's JWKS is cached, in seconds.
    jwks_max_age: int = 600
    # Timeout of each request to the IdP, in seconds.
    http_timeout: float = 10.0


def validate(config: MiniProgramConfig) -> MiniProgramConfig:
    if not config.client_id:
        raise ConfigError("client_id is required (MINIPROGRAM_CLIENT_ID or the config file)")
    if not config.client_secret:
        raise ConfigError(
            "client_secret is required (MINIPROGRAM_CLIENT_SECRET or the config file)"
        )
    if "openid" not in config.scope.split():
        raise ConfigError("scope must contain 'openid' (the backend checks the ID token)")
    if not 0 < config.port < 65536:
        raise ConfigError(f"port out of range: {config.port}")
    if config.session_ttl <= 0:
        raise ConfigError("session_ttl must be positive")
    return replace(config, issuer=check_url("issuer", config.issuer))


def load_config(
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> MiniProgramConfig:
    return validate(
        load_settings(
            MiniProgramConfig,
            env_prefix=ENV_PREFIX,
            environ=environ,
            config_file=config_file,
            overrides=overrides,
        )
    )
