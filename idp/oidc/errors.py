"""OAuth / OpenID error codes Authlib does not define.

- ``unmet_authentication_requirements`` (OpenID Connect Core Unmet Authentication Requirements
  1.0 §2): the OP could not authenticate the citizen to the level the client requires.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import OAuth2Error


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]
    error = "unmet_authentication_requirements"
