"""Relying-party registry: department portals, apps, mini-programs, counters, services."""

from idp.clients.channels import CHANNEL_NAMES, ChannelPolicies, ChannelProfile
from idp.clients.service import ClientRecord, ClientService, NewClient

__all__ = ["CHANNEL_NAMES", "ChannelPolicies", "ChannelProfile", "ClientRecord", "ClientService",
           "NewClient"]
