"""一网通办 Unified Identity — an OpenID Connect provider for e-government."""

__version__ = "0.1.0"
