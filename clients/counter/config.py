"""Settings of the counter terminal, loaded once and frozen.

Sources, later ones winning: the defaults below, ``COUNTER_*`` environment variables, the JSON
file named by ``--config`` (same keys in lower case, no prefix), and the command-line flags.
Prefer the file or ``COUNTER_CLIENT_SECRET`` to ``--client-secret``: other users of the
machine can read a process's command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from clients.common.settings import ConfigError, check_url, load_settings

ENV_PREFIX = "COUNTER_"


@dataclass(frozen=True)
class CounterConfig:
    # Issuer identifier of the IdP, no trailing slash; endpoints come from discovery
    # (device_authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri).
    issuer: str = "http://localhost:5000"
    # Credentials of `idp clients create --channel counter …`. Required.
    client_id: str = ""
    client_secret: str = ""
    # Scopes asked for. openid is needed for the ID token the terminal checks.
    scope: str = "openid profile"
    # Accepted clock skew for exp / iat, in seconds.
    leeway: int = 60
    # Timeout of each request to the IdP, in seconds.
    http_timeout: float = 10.0
    # Where the citizen signed in at the terminal is kept (JSON, mode 0600) for `status` and
    # forgotten by `listen` when the IdP ends their session (back-channel logout).
    state_file: str = "~/.ywtb-counter.json"


def validate(config: CounterConfig) -> CounterConfig:
    if not config.client_id:
        raise ConfigError("client_id is required (--client-id, COUNTER_CLIENT_ID or --config)")
    if not config.client_secret:
        raise ConfigError(
            "client_secret is required (COUNTER_CLIENT_SECRET, --config or --client-secret)"
        )
    if "openid" not in config.scope.split():
        raise ConfigError("scope must contain 'openid' (the terminal checks the ID token)")
    return replace(config, issuer=check_url("issuer", config.issuer))


def load_config(
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CounterConfig:
    return validate(
        load_settings(
            CounterConfig,
            env_prefix=ENV_PREFIX,
            environ=environ,
            config_file=config_file,
            overrides=overrides,
        )
    )
