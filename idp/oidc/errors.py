"""OAuth / OpenID error codes Authlib does not define.

- ``unmet_authentication_requirements`` (OpenID Connect Core Unmet Authentication Requirements
  1.0 §2): the OP could not authenticate the citizen to the level the client requires.
- ``invalid_target`` (RFC 8693 §2.2.2, RFC 8707 §2): the server will not issue a token for the
  ``audience`` or ``resource`` the client named.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import OAuth2Error


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]
    error = "unmet_authentication_requirements"


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    error = "invalid_target"
