"""Words for the codes the account centre shows the citizen: channels, sign-in methods (RFC 8176
``amr`` values), audit outcomes; local times; a masked network address.

Codes never reach the page raw when a word exists for them: an unknown code is shown as is,
which is still better than hiding it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone

from flask_babel import gettext

from idp.clock import as_aware, to_datetime

# China Standard Time: the service's users are in one time zone, which has no daylight saving.
LOCAL_TIME = timezone(timedelta(hours=8), "CST")


def N_(text: str) -> str:  # noqa: N802 — marks a string for extraction, translated later
    return text


CHANNEL_LABELS = {
    "website": N_("Website"),
    "app": N_("Mobile app"),
    "miniprogram": N_("Mini-program"),
    "counter": N_("Service counter or self-service terminal"),
    "service": N_("Back-end service"),
}

AMR_LABELS = {
    "pwd": N_("Password"),
    "mca": N_("Scanned with the app"),
    "otp": N_("One-time code"),
    "sms": N_("SMS code"),
    "hwk": N_("Passkey"),
    "face": N_("Face recognition"),
}

# The sign-in history: the audit tags shown, and their outcome in words.
HISTORY_LABELS = {
    "account:login:success": N_("Signed in with password"),
    "account:login:failure": N_("Sign-in failed: wrong password"),
    "account:login:throttled": N_("Sign-in blocked: too many failed attempts"),
    "account:login:locked": N_("Sign-in refused: the account is locked"),
    "qr:login:completed": N_("Signed in by scanning with the app"),
    "session:end:success": N_("Session ended"),
    "account:password:change": N_("Password changed"),
    "account:password:failure": N_("Password change failed: wrong current password"),
}
HISTORY_TAGS = tuple(HISTORY_LABELS)
FAILED_TAGS = frozenset({"account:login:failure", "account:login:throttled",
                         "account:login:locked", "account:password:failure"})


def _label(table: dict[str, str], code: str) -> str:
    text = table.get(code)
    return str(gettext(text)) if text else code


def channel_label(code: str) -> str:
    return _label(CHANNEL_LABELS, code)


def amr_labels(codes: list[str]) -> list[str]:
    return [_label(AMR_LABELS, c) for c in codes]


def history_label(tag: str) -> str:
    return _label(HISTORY_LABELS, tag)


def local_time(value: datetime | float | int) -> str:
    """``2024-05-01 14:03`` in China Standard Time (one format for both languages)."""
    moment = to_datetime(value) if isinstance(value, int | float) else as_aware(value)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def masked_network(ip: str | None) -> str | None:
    """``203.0.113.*`` (IPv4) or ``2001:db8:1:*`` (IPv6): the network, never the host."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return ".".join(str(address).split(".")[:3]) + ".*"
    return ":".join(group.lstrip("0") or "0" for group in address.exploded.split(":")[:3]) + ":*"
