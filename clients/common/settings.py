"""Typed, frozen settings for the reference clients, loaded once.

Sources, later ones winning: the dataclass defaults, ``<PREFIX>*`` environment variables (e.g.
``COUNTER_CLIENT_ID``), a JSON file (the same keys in lower case, without the prefix), and
command-line overrides — the same order as the demo portal's :mod:`clients.website.config`.
This module is the only one of the clients that reads the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from clients.website.config import ConfigError, check_url

__all__ = ["ConfigError", "check_url", "load_settings"]

T = TypeVar("T")
_CASTS: dict[str, type] = {"str": str, "int": int, "float": float}


def _field_types(cls: type) -> dict[str, type]:
    assert is_dataclass(cls)  # noqa: S101 — a programming error, not input
    return {f.name: _CASTS[str(f.type)] for f in fields(cls)}


def _coerce(types: Mapping[str, type], key: str, value: Any, origin: str) -> Any:
    if key not in types:
        raise ConfigError(f"{origin}: unknown setting {key!r}")
    kind = types[key]
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected {kind.__name__}, got a boolean")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r}") from None


def _from_file(path: str) -> Mapping[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return data


def load_settings(
    cls: type[T],
    *,
    env_prefix: str,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``cls`` (a frozen dataclass of ``str``/``int``/``float`` fields) from the sources;
    raise :class:`ConfigError` (one line) on an unknown key or a value of the wrong type."""
    types = _field_types(cls)
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, value in env.items():
        key = name[len(env_prefix) :].lower()
        if name.startswith(env_prefix) and key in types:
            values[key] = _coerce(types, key, value, "environment")
    if config_file:
        for key, value in _from_file(config_file).items():
            values[key] = _coerce(types, key, value, config_file)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(types, key, value, "command line")
    return cls(**values)
