"""Sending text messages: the :class:`SmsGateway` interface and its two implementations.

The IdP sends one kind of SMS today, the one-time code of the SMS second factor
(:mod:`idp.accounts.sms_codes`, docs/assurance.md); DESIGN.md §7's notifications will use the
same interface.

* :class:`ConsoleSmsGateway` — development: writes the message to the log, **code included**
  (that is how a developer reads it), with the phone number masked. The settings loader refuses
  it in production mode (``[sms] backend = "console"``).
* :class:`HttpSmsGateway` — the operator's gateway, configured by a URL template
  (``[sms] http_url``, ``{phone}`` and ``{text}`` URL-encoded), method, timeout and an optional
  bearer token. Any 2xx answer is success; anything else, or no answer, is
  :class:`SmsDeliveryFailed`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

import requests

from idp.errors import IdpError

log = logging.getLogger(__name__)


class SmsDeliveryFailed(IdpError):
    """The gateway did not accept the message (unreachable, timeout, non-2xx answer)."""

    code = "sms.unavailable"


def mask_phone(phone: str) -> str:
    """``13800138000`` → ``138****8000``: the form shown on pages, logs and the audit trail."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


class SmsGateway(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Hand one message to the carrier; :class:`SmsDeliveryFailed` when it was not taken."""


class ConsoleSmsGateway:
    """Development only: logs ``SMS to 138****8000: <text>`` at INFO on ``idp.accounts.sms``.

    The text — and so the one-time code in it — IS written to the log: that is how a developer
    signs in without a phone. Never use it in production (the loader refuses it there)."""

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", mask_phone(phone), text)


@dataclass(frozen=True)
class HttpSmsGateway:
    """``GET`` (or ``POST`` with JSON ``{"phone", "text"}``) the expanded ``url_template``."""

    url_template: str
    method: str = "GET"
    timeout: float = 3.0
    token: str = field(default="", repr=False)

    def send(self, phone: str, text: str) -> None:
        url = self.url_template.replace("{phone}", quote(phone, safe="")) \
            .replace("{text}", quote(text, safe=""))
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = requests.request(
                self.method, url, headers=headers, timeout=self.timeout, allow_redirects=False,
                json={"phone": phone, "text": text} if self.method == "POST" else None)
        except requests.RequestException as exc:
            # Neither the URL (it holds the phone number and the code) nor the error text.
            raise SmsDeliveryFailed(f"the SMS gateway did not answer ({type(exc).__name__})",
                                    ) from None
        if not 200 <= resp.status_code < 300:
            raise SmsDeliveryFailed(f"the SMS gateway answered HTTP {resp.status_code}")
