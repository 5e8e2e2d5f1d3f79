"""Settings of the demo department portal, loaded once and frozen.

Sources, later ones winning: the defaults below, ``PORTAL_*`` environment variables, a JSON file
named by ``--config`` (the same keys in lower case, without the prefix), and the ``--host`` /
``--port`` command-line flags. This module is the only one that reads the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "PORTAL_"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(ValueError):
    """A setting is missing or invalid; the message is one line, fit for the terminal."""


@dataclass(frozen=True)
class PortalConfig:
    # Issuer identifier of the 一网通办 IdP, no trailing slash. Discovery is fetched from
    # <issuer>/.well-known/openid-configuration; every other endpoint comes from there.
    issuer: str = "http://localhost:5000"
    # Credentials from `idp clients create --channel website …`. Required.
    client_id: str = ""
    client_secret: str = ""
    # Public base URL of this portal; the registered redirect URI is <base_url>/callback.
    # Cookies get the Secure flag when it is https://.
    base_url: str = "http://localhost:5001"
    # Where `python -m clients.website` listens.
    host: str = "127.0.0.1"
    port: int = 5001
    # Signs the portal's session cookie. Empty = a random key per process (sessions end on
    # restart, which is fine for a demo).
    secret_key: str = ""
    # Scopes asked for at sign-in. offline_access asks for a refresh token.
    scope: str = "openid profile phone offline_access"
    # Accepted clock skew, in seconds, when checking exp / iat of ID tokens.
    leeway: int = 60
    # How long the IdP's JWKS is cached before it is fetched again, in seconds.
    jwks_max_age: int = 600
    # Timeout of every HTTP request to the IdP, in seconds.
    http_timeout: float = 10.0

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


_CASTS: dict[str, type] = {"str": str, "int": int, "float": float}
# Field name -> the type its value is converted to (annotations are strings here).
_FIELD_TYPES: dict[str, type] = {f.name: _CASTS[str(f.type)] for f in fields(PortalConfig)}


def _coerce(key: str, value: Any) -> Any:
    kind = _FIELD_TYPES[key]
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected {kind.__name__}, got a boolean")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}") from None


def _from_mapping(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _FIELD_TYPES:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
        out[key] = _coerce(key, value)
    return out


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :].lower() in _FIELD_TYPES
    }
    return _from_mapping(values, "environment")


def _from_file(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return _from_mapping(data, path)


def check_url(key: str, url: str) -> str:
    """An http(s) URL without query or fragment, ``https://`` unless loopback; no trailing /."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key} must be an http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{key} must not have a query or fragment")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(f"{key} must use https:// unless it is a loopback address")
    return url.rstrip("/")


def validate(config: PortalConfig) -> PortalConfig:
    """Return ``config`` normalised, or raise :class:`ConfigError` naming the bad key."""
    if not config.client_id:
        raise ConfigError("client_id is required (PORTAL_CLIENT_ID or the config file)")
    if not config.client_secret:
        raise ConfigError("client_secret is required (PORTAL_CLIENT_SECRET or the config file)")
    if "openid" not in config.scope.split():
        raise ConfigError("scope must contain 'openid'")
    if not 0 < config.port < 65536:
        raise ConfigError(f"port out of range: {config.port}")
    return replace(
        config,
        issuer=check_url("issuer", config.issuer),
        base_url=check_url("base_url", config.base_url),
        secret_key=config.secret_key or secrets.token_urlsafe(32),
    )


def load_config(
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PortalConfig:
    """Build the validated settings: defaults < environment < config file < overrides."""
    values: dict[str, Any] = {}
    values.update(_from_env(os.environ if environ is None else environ))
    if config_file:
        values.update(_from_file(config_file))
    if overrides:
        values.update(_from_mapping(overrides, "command line"))
    return validate(PortalConfig(**values))
