"""Relying-party registry: department portals, apps, mini-programs, counters, services."""

from idp.clients.channels import CHANNELS, ChannelProfile
from idp.clients.service import ClientRecord, ClientService, NewClient

__all__ = ["CHANNELS", "ChannelProfile", "ClientRecord", "ClientService", "NewClient"]
