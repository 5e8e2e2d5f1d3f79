"""The Flask application: pages, OIDC endpoints, security headers."""

from idp.web.app import create_app

__all__ = ["create_app"]
