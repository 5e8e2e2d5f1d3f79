"""Channel profiles (DESIGN.md §2): what kind of client each channel is and what it may do.

The channel decides the client type, how it authenticates at the token endpoint, the grants it
may use and the redirect URI rules. Per-channel token lifetimes and minimum assurance come with
the channel-policy work (issue 3) and will be read from settings here.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_CODE = "authorization_code"
REFRESH = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class ChannelProfile:
    name: str
    client_type: str  # confidential | public
    auth_method: str  # client_secret_basic | none
    grant_types: tuple[str, ...]
    needs_redirect_uri: bool
    native_redirects: bool  # RFC 8252 loopback / private-use scheme redirect URIs allowed
    default_scopes: tuple[str, ...]


_USER_SCOPES = ("openid", "profile", "phone", "email", "address", "offline_access")

CHANNELS: dict[str, ChannelProfile] = {
    "website": ChannelProfile("website", "confidential", "client_secret_basic",
                              (AUTH_CODE, REFRESH), True, False, _USER_SCOPES),
    "app": ChannelProfile("app", "public", "none", (AUTH_CODE, REFRESH), True, True,
                          _USER_SCOPES),
    "miniprogram": ChannelProfile("miniprogram", "confidential", "client_secret_basic",
                                  (AUTH_CODE, REFRESH), True, False, _USER_SCOPES),
    "counter": ChannelProfile("counter", "confidential", "client_secret_basic",
                              (AUTH_CODE, REFRESH), True, False, _USER_SCOPES),
    "service": ChannelProfile("service", "confidential", "client_secret_basic",
                              (CLIENT_CREDENTIALS,), False, False, ()),
}
