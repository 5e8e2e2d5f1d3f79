"""Channel profiles (DESIGN.md §2): what kind of client each channel is and what it may do.

The policy of each channel lives in settings (``[channels.*]`` in ``config/default.toml``):
client type, grant types, PKCE rule, token lifetimes, refresh rotation and minimum assurance.
:class:`ChannelPolicies` answers every policy question the endpoints ask, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.config.settings import (
    ACR_LEVELS,
    AUTH_CODE,
    CLIENT_CREDENTIALS,
    DEVICE_CODE,
    REFRESH,
    TOKEN_EXCHANGE,
    ChannelPolicy,
    ChannelsSettings,
    TokenExchangeSettings,
)

__all__ = ["AUTH_CODE", "CHANNEL_NAMES", "CLIENT_CREDENTIALS", "DEVICE_CODE", "REFRESH",
           "TOKEN_EXCHANGE", "ChannelPolicies", "ChannelProfile"]

CHANNEL_NAMES = ("website", "app", "miniprogram", "counter", "service")
USER_SCOPES = ("openid", "profile", "phone", "email", "address", "offline_access")


@dataclass(frozen=True)
class ChannelProfile:
    """Registration-time view of a channel: how its clients are created."""

    name: str
    client_type: str  # confidential | public
    auth_method: str  # client_secret_basic | none
    grant_types: tuple[str, ...]
    needs_redirect_uri: bool
    native_redirects: bool  # RFC 8252 loopback / private-use scheme redirect URIs allowed
    default_scopes: tuple[str, ...]


def _side_matches(side: str, client_id: str, channel: str) -> bool:
    side = side.strip()
    if side.startswith("channel:"):
        return side.removeprefix("channel:") == channel
    return side == client_id


class ChannelPolicies:
    def __init__(self, channels: ChannelsSettings, exchange: TokenExchangeSettings) -> None:
        self._channels = channels
        self._exchange = exchange
        self._rules = tuple(tuple(p.strip() for p in rule.split("->")) for rule in exchange.allow)

    def policy(self, channel: str) -> ChannelPolicy:
        found = self._channels.get(channel)
        if found is None:
            raise KeyError(channel)
        return found

    def profile(self, channel: str) -> ChannelProfile | None:
        if channel not in CHANNEL_NAMES:
            return None
        policy = self.policy(channel)
        interactive = AUTH_CODE in policy.grant_types
        public = policy.client_type == "public"
        return ChannelProfile(
            name=channel, client_type=policy.client_type,
            auth_method="none" if public else "client_secret_basic",
            grant_types=policy.grant_types, needs_redirect_uri=interactive,
            native_redirects=public,
            default_scopes=() if policy.grant_types == (CLIENT_CREDENTIALS,) else USER_SCOPES,
        )

    def allows_grant(self, channel: str, grant_type: str) -> bool:
        return grant_type in self.policy(channel).grant_types

    def issues_refresh_tokens(self, channel: str) -> bool:
        policy = self.policy(channel)
        return REFRESH in policy.grant_types and policy.refresh_token_ttl > 0

    def pkce_required(self, channel: str) -> bool:
        return self.policy(channel).pkce == "required"

    def acr_satisfied(self, channel: str, acr: str | None) -> bool:
        """Is the achieved ``acr`` at least the channel's ``min_acr``?"""
        minimum = ACR_LEVELS.index(self.policy(channel).min_acr)
        return acr in ACR_LEVELS and ACR_LEVELS.index(acr) >= minimum

    def exchange_allowed(self, source_client: str, source_channel: str, target_client: str,
                         target_channel: str) -> bool:
        """May a token issued to the source client be exchanged for the target's (RFC 8693)?"""
        return any(_side_matches(src, source_client, source_channel)
                   and _side_matches(dst, target_client, target_channel)
                   for src, dst in self._rules)

    def may_act(self, client_id: str, channel: str) -> bool:
        """May tokens of this client be presented as ``actor_token`` (代办)?"""
        return any(_side_matches(side, client_id, channel)
                   for side in self._exchange.actor_clients)
