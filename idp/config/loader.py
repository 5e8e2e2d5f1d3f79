"""Load settings: defaults file, then the file named by ``IDP_CONFIG``, then ``IDP_*`` variables.

Environment names: ``IDP_<KEY>`` for top-level keys and ``IDP_<SECTION>_<KEY>`` for keys of a
section, so ``IDP_DATABASE_URL`` is ``database.url``, ``IDP_REDIS_URL`` is ``redis.url`` and
``IDP_KEYS_DIR`` is ``keys.dir``. This is the only module that reads the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from idp.config.settings import (
    ACR_LEVELS,
    CLIENT_CREDENTIALS,
    DEV_SECRET_KEY,
    GRANT_TYPES,
    Settings,
)
from idp.errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "default.toml"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ALGORITHMS = {"RS256", "ES256"}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _coerce(name: str, raw: Any, target: type[Any] | str) -> Any:
    kind = target if isinstance(target, str) else target.__name__
    try:
        if kind.startswith("tuple[str"):
            if isinstance(raw, str):
                raw = raw.replace(",", " ").split()
            if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
                raise ValueError(raw)
            return tuple(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind == "float":
            return float(raw)
        if not isinstance(raw, str | int | float):
            raise ValueError(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} must be of type {kind}, got {raw!r}") from None


def _build(default: Any, data: Mapping[str, Any], prefix: str, env: Mapping[str, str]) -> Any:
    """A copy of the dataclass instance ``default`` with values from ``data`` and ``env``."""
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(default)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown setting {prefix}{key}")
    for f in fields.values():
        dotted = f"{prefix}{f.name}"
        env_name = "IDP_" + dotted.replace(".", "_").upper()
        current = getattr(default, f.name)
        if dataclasses.is_dataclass(current):
            section = data.get(f.name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"setting {dotted} must be a table")
            kwargs[f.name] = _build(current, section, f"{dotted}.", env)
            continue
        if env_name in env:
            kwargs[f.name] = _coerce(dotted, env[env_name], f.type)
        elif f.name in data:
            kwargs[f.name] = _coerce(dotted, data[f.name], f.type)
    return dataclasses.replace(default, **kwargs)


def validate(settings: Settings) -> None:
    """Refuse settings that are malformed, or unsafe in production mode."""
    if settings.mode not in {"development", "production"}:
        raise ConfigError(f"mode must be 'development' or 'production', got {settings.mode!r}")
    parts = urlsplit(settings.issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"issuer must be an absolute http(s) URL, got {settings.issuer!r}")
    if parts.query or parts.fragment or settings.issuer.endswith("/"):
        raise ConfigError("issuer must have no query, fragment or trailing slash")
    for alg_name in ("id_token_alg", "access_token_alg"):
        if getattr(settings.keys, alg_name) not in ALGORITHMS:
            raise ConfigError(f"keys.{alg_name} must be one of {sorted(ALGORITHMS)}")
    if settings.registry.backend not in {"table", "http"}:
        raise ConfigError("registry.backend must be 'table' or 'http'")
    if settings.registry.backend == "http" and not settings.registry.http_url:
        raise ConfigError("registry.backend = 'http' needs registry.http_url")
    if settings.ui.default_locale not in {"zh_CN", "en"}:
        raise ConfigError("ui.default_locale must be 'zh_CN' or 'en'")
    if not 0 <= settings.proxy_hops <= 5:
        raise ConfigError("proxy_hops must be between 0 and 5")
    for name in ("authorization_code_ttl", "used_code_memory"):
        if getattr(settings.tokens, name) <= 0:
            raise ConfigError(f"tokens.{name} must be positive")
    if not 1 <= settings.qr.ticket_ttl <= 600:
        raise ConfigError("qr.ticket_ttl must be between 1 and 600 seconds")
    if not 0.5 <= settings.qr.poll_interval <= 10:
        raise ConfigError("qr.poll_interval must be between 0.5 and 10 seconds")
    for name in ("device_code_ttl", "interval", "user_code_failures", "user_code_window"):
        if getattr(settings.device, name) <= 0:
            raise ConfigError(f"device.{name} must be positive")
    _validate_session(settings)
    _validate_lifecycles(settings)
    _validate_logout(settings)
    _validate_sms(settings)
    _validate_face(settings)
    _validate_assurance(settings)
    _validate_channels(settings)
    _validate_observability(settings)
    if not settings.production:
        return
    if settings.registry.backend == "http" and not settings.registry.http_url.startswith(
            "https://"):
        raise ConfigError("production mode needs an https:// registry.http_url")
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"production mode needs an https:// issuer, got {settings.issuer!r} "
            "(set IDP_ISSUER to the public https URL)"
        )
    if settings.secret_key == DEV_SECRET_KEY or len(settings.secret_key) < 32:
        raise ConfigError(
            "production mode needs a secret_key of 32+ random characters, not the default "
            "(set IDP_SECRET_KEY)"
        )
    if settings.sms.backend == "console":
        raise ConfigError("production mode cannot use sms.backend = 'console' (it writes the "
                          "codes to the log): set 'http', or 'none' to offer no SMS codes")
    if settings.sms.backend == "http" and not settings.sms.http_url.startswith("https://"):
        raise ConfigError("production mode needs an https:// sms.http_url")
    if settings.face.backend == "local":
        raise ConfigError("production mode cannot use face.backend = 'local' (a page where "
                          "anyone chooses the outcome): set 'http', or 'none' to offer no L3")
    if settings.face.backend == "http" and not all(
            url.startswith("https://") for url in (settings.face.http_begin_url,
                                                   settings.face.http_result_url)):
        raise ConfigError("production mode needs https:// face.http_begin_url and "
                          "face.http_result_url")


def _validate_lifecycles(settings: Settings) -> None:
    """Key rotation, staff sessions and tokens, initial access tokens."""
    keys = settings.keys
    if keys.overlap <= 0 or (settings.production and keys.overlap < 300):
        raise ConfigError("keys.overlap must be positive, and at least 300 seconds in production "
                          "(longer than relying parties cache the JWKS)")
    if keys.rotation_period <= keys.overlap:
        raise ConfigError("keys.rotation_period must be longer than keys.overlap")
    st = settings.staff
    if st.password_min_length < 12:
        raise ConfigError("staff.password_min_length must be at least 12")
    for name in ("session_absolute_ttl", "session_idle_ttl", "max_failures",
                 "failure_window", "api_token_ttl"):
        if getattr(st, name) <= 0:
            raise ConfigError(f"staff.{name} must be positive")
    if st.session_idle_ttl > st.session_absolute_ttl:
        raise ConfigError("staff.session_idle_ttl must be at most staff.session_absolute_ttl")
    if settings.registration.initial_token_ttl <= 0:
        raise ConfigError("registration.initial_token_ttl must be positive")


def _validate_session(settings: Settings) -> None:
    se = settings.session
    if se.absolute_ttl <= 0:
        raise ConfigError("session.absolute_ttl must be positive")
    if not 0 < se.idle_ttl <= se.absolute_ttl:
        raise ConfigError("session.idle_ttl must be positive and at most session.absolute_ttl "
                          f"({se.absolute_ttl}), got {se.idle_ttl}")
    if se.max_per_account < 0:
        raise ConfigError("session.max_per_account must be 0 (no limit) or positive")


def _validate_logout(settings: Settings) -> None:
    lo = settings.logout
    if not 10 <= lo.token_ttl <= 3600:
        raise ConfigError("logout.token_ttl must be between 10 and 3600 seconds")
    if not 0.5 <= lo.timeout <= 60:
        raise ConfigError("logout.timeout must be between 0.5 and 60 seconds")
    if not 0.1 <= lo.retry_initial <= lo.retry_max <= 86400:
        raise ConfigError("logout.retry_initial and retry_max must satisfy "
                          "0.1 <= retry_initial <= retry_max <= 86400")
    if lo.give_up_after <= 0:
        raise ConfigError("logout.give_up_after must be positive")
    if not 0.1 <= lo.poll_interval <= 60:
        raise ConfigError("logout.poll_interval must be between 0.1 and 60 seconds")


def _validate_assurance(settings: Settings) -> None:
    names = [settings.assurance.l1, settings.assurance.l2, settings.assurance.l3,
             settings.assurance.l4]
    for level, name in zip(("l1", "l2", "l3", "l4"), names, strict=True):
        if not 0 < len(name) <= 128 or not name.isprintable() or any(c.isspace() for c in name):
            raise ConfigError(f"assurance.{level} must be 1 to 128 printable characters "
                              f"without spaces (acr_values are space-separated)")
    if len(set(names)) != 4:
        raise ConfigError("assurance.l1 to assurance.l4 must be four different names")


def _validate_sms(settings: Settings) -> None:
    sms = settings.sms
    if sms.backend not in {"console", "http", "none"}:
        raise ConfigError("sms.backend must be 'console', 'http' or 'none'")
    if sms.backend == "http":
        if not sms.http_url:
            raise ConfigError("sms.backend = 'http' needs sms.http_url")
        if urlsplit(sms.http_url).scheme not in {"http", "https"} or "{phone}" not in \
                sms.http_url or ("{text}" not in sms.http_url and sms.http_method == "GET"):
            raise ConfigError("sms.http_url must be an http(s) URL template with {phone} and "
                              "{text} (with http_method = 'POST', {text} may be left out)")
    if sms.http_method not in {"GET", "POST"}:
        raise ConfigError("sms.http_method must be 'GET' or 'POST'")
    if not 0.5 <= sms.http_timeout <= 30:
        raise ConfigError("sms.http_timeout must be between 0.5 and 30 seconds")
    if not 60 <= sms.code_ttl <= 1800:
        raise ConfigError("sms.code_ttl must be between 60 and 1800 seconds")
    if not 6 <= sms.code_length <= 8:
        raise ConfigError("sms.code_length must be between 6 and 8 digits")
    if not 0 <= sms.resend_interval < sms.send_window:
        raise ConfigError("sms.resend_interval must be 0 or more and below sms.send_window")
    if not 1 <= sms.max_sends <= 100:
        raise ConfigError("sms.max_sends must be between 1 and 100")
    if not 1 <= sms.max_attempts <= 10:
        raise ConfigError("sms.max_attempts must be between 1 and 10")


def _validate_face(settings: Settings) -> None:
    face = settings.face
    if face.backend not in {"local", "http", "none"}:
        raise ConfigError("face.backend must be 'local', 'http' or 'none'")
    if face.backend == "http":
        if not face.http_begin_url or not face.http_result_url:
            raise ConfigError("face.backend = 'http' needs face.http_begin_url and "
                              "face.http_result_url")
        if urlsplit(face.http_begin_url).scheme not in {"http", "https"}:
            raise ConfigError("face.http_begin_url must be an http(s) URL")
        if urlsplit(face.http_result_url).scheme not in {"http", "https"} or \
                "{check_id}" not in face.http_result_url:
            raise ConfigError("face.http_result_url must be an http(s) URL template with "
                              "{check_id}")
    if not 0.5 <= face.http_timeout <= 30:
        raise ConfigError("face.http_timeout must be between 0.5 and 30 seconds")
    if not 60 <= face.check_ttl <= 3600:
        raise ConfigError("face.check_ttl must be between 60 and 3600 seconds")
    if not 1 <= face.max_checks <= 100:
        raise ConfigError("face.max_checks must be between 1 and 100")
    if not 60 <= face.window <= 86400:
        raise ConfigError("face.window must be between 60 and 86400 seconds")


def _validate_channels(settings: Settings) -> None:
    for name in settings.channels.names():
        policy = settings.channels.get(name)
        assert policy is not None  # noqa: S101 — names() lists the fields
        where = f"channels.{name}"
        if policy.client_type not in {"confidential", "public"}:
            raise ConfigError(f"{where}.client_type must be 'confidential' or 'public'")
        unknown = [g for g in policy.grant_types if g not in GRANT_TYPES]
        if unknown:
            raise ConfigError(f"{where}.grant_types: unknown grant type(s) {', '.join(unknown)}")
        if policy.pkce not in {"required", "optional"}:
            raise ConfigError(f"{where}.pkce must be 'required' or 'optional'")
        if policy.client_type == "public" and policy.pkce != "required":
            raise ConfigError(f"{where}: public clients must use PKCE (pkce = 'required')")
        if policy.client_type == "public" and CLIENT_CREDENTIALS in policy.grant_types:
            raise ConfigError(f"{where}: public clients cannot use client_credentials")
        if policy.min_acr not in ACR_LEVELS:
            raise ConfigError(f"{where}.min_acr must be one of {', '.join(ACR_LEVELS)}")
        for ttl in ("access_token_ttl", "id_token_ttl"):
            if getattr(policy, ttl) <= 0:
                raise ConfigError(f"{where}.{ttl} must be positive")
        if policy.refresh_token_ttl < 0:
            raise ConfigError(f"{where}.refresh_token_ttl must be 0 (none) or positive")
        if policy.session_absolute < 0 or 0 < policy.session_absolute < policy.access_token_ttl:
            raise ConfigError(f"{where}.session_absolute must be 0 (no limit) or at least "
                              f"{where}.access_token_ttl ({policy.access_token_ttl}), "
                              f"got {policy.session_absolute}")
    for rule in settings.token_exchange.allow:
        parts = [p.strip() for p in rule.split("->")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"token_exchange.allow: {rule!r} is not 'SOURCE -> TARGET'")


def _validate_observability(settings: Settings) -> None:
    """``[logging]`` and ``[metrics]``: in production, /metrics is never open to everyone."""
    if settings.logging.format not in {"auto", "json", "text"}:
        raise ConfigError("logging.format must be 'auto', 'json' or 'text'")
    m = settings.metrics
    for entry in m.allow:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"metrics.allow: {entry!r} is not an IP address or network "
                              "(CIDR)") from None
        if settings.production and network.prefixlen == 0:
            raise ConfigError(f"metrics.allow: {entry!r} admits every address; in production "
                              "give scrapers from anywhere a metrics.token instead")
    if m.token and (not m.token.isprintable() or any(c.isspace() for c in m.token)):
        raise ConfigError("metrics.token must be printable characters without spaces")
    if m.token and settings.production and len(m.token) < 32:
        raise ConfigError("production mode needs a metrics.token of 32+ random characters "
                          "(or none: then only metrics.allow admits scrapers)")


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Load, merge and validate the settings. ``env`` defaults to ``os.environ``."""
    environ = os.environ if env is None else env
    data = _read_toml(DEFAULT_FILE)
    extra_path = environ.get("IDP_CONFIG")
    if extra_path:
        data = _merge(data, _read_toml(Path(extra_path)))
    if overrides:
        data = _merge(data, overrides)
    settings = _build(Settings(), data, "", environ)
    validate(settings)
    return settings  # type: ignore[no-any-return]
