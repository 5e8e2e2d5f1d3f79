"""Settings: loaded once from config/default.toml, IDP_CONFIG and IDP_* variables."""

from idp.config.loader import load_settings
from idp.config.settings import Settings

__all__ = ["Settings", "load_settings"]
