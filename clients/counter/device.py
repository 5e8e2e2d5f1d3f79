"""The device authorization grant (RFC 8628) from the terminal's side.

1. ``request_authorization`` — §3.1/§3.2: ``POST device_authorization_endpoint`` with
   ``client_secret_basic``, ``scope`` and (optionally) ``login_hint``, the ID number or phone of
   the citizen at the window: only that citizen may then approve. With ``id_card_number`` and
   ``clerk_id`` (docs/channels/counter.md §2, §6) the terminal attests that the clerk checked
   that citizen's physical ID card: the tokens then say ``acr`` L4 (clients staff allowed with
   ``idp clients allow-in-person`` only).
2. The terminal shows ``verification_uri_complete`` as a QR code and the ``user_code`` (§3.3).
3. ``poll`` — §3.4/§3.5: ``POST token_endpoint`` with
   ``grant_type=urn:ietf:params:oauth:grant-type:device_code`` every ``interval`` seconds (5 if
   absent): ``authorization_pending`` → keep polling; ``slow_down`` → 5 s more from then on;
   ``access_denied`` / ``expired_token`` → stop (:class:`DeviceFlowEnded`); a network failure
   → back off (double the interval, §3.5) until the code expires; tokens → done.

The clock and ``sleep`` are injected, and the network is the provider's transport, so tests
run the loop in no time against a scripted IdP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clients.common.cli import Outcome
from clients.common.errors import ClientError, OAuthErrorResponse
from clients.common.http import basic_auth
from clients.common.provider import Provider

from .config import CounterConfig

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # seconds, RFC 8628 §3.2
SLOW_DOWN_STEP = 5  # seconds added on slow_down, §3.5
MAX_BACKOFF = 60  # seconds between polls at most, after network failures

Event = Callable[[str, int], None]  # (what happened, the interval now), for the display


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


@dataclass(frozen=True)
class InPersonCheck:
    """The clerk's check of the citizen's physical ID card (L4): the number read from the card
    and who checked it. The number is shown only masked (:func:`mask_card_number`)."""

    id_card_number: str
    clerk_id: str

    def __repr__(self) -> str:
        return f"InPersonCheck({mask_card_number(self.id_card_number)!r}, {self.clerk_id!r})"


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def valid_card_number(value: str) -> bool:
    """An 18-character resident ID number whose check character (GB 11643, ISO 7064 MOD 11-2)
    matches: a misread card is caught at the terminal, before anything is sent."""
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True))
    return value[17] == _CHECK[total % 11]


def mask_card_number(value: str) -> str:
    """``110101********1234``: first 6 and last 4 characters; under 15 characters, all stars."""
    text = value.strip()
    if len(text) < 15:
        return "*" * len(text)
    return f"{text[:6]}{'*' * (len(text) - 10)}{text[-4:]}"


class DeviceFlowEnded(Outcome):
    """The citizen declined (``access_denied``) or nobody approved in time (``expired_token``)."""


DENIED = (
    "access_denied",
    "The citizen declined the sign-in in the app.",
    "市民在 App 中拒绝了本次登录。",
)
EXPIRED = (
    "expired_token",
    "The code expired before the citizen approved it; start again.",
    "用户码已过期，市民未及时确认，请重新开始。",
)


def _positive_int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return default
    return value


def request_authorization(
    provider: Provider,
    config: CounterConfig,
    *,
    scope: str,
    login_hint: str | None = None,
    in_person: InPersonCheck | None = None,
) -> DeviceAuthorization:
    form = {"scope": scope}
    if login_hint:
        form["login_hint"] = login_hint
    if in_person is not None:
        form["id_card_number"] = in_person.id_card_number
        form["clerk_id"] = in_person.clerk_id
    data = provider.post_form(
        "device_authorization_endpoint", form, basic_auth(config.client_id, config.client_secret)
    )
    expires_in = _positive_int(data.get("expires_in"))
    fields = ("device_code", "user_code", "verification_uri")
    missing = [name for name in fields if not isinstance(data.get(name), str) or not data[name]]
    if expires_in is None:
        missing.append("expires_in")
    if missing:
        raise ClientError(
            "bad_response",
            f"The device authorization response lacks: {', '.join(missing)}.",
            f"设备授权响应缺少：{'、'.join(missing)}。",
            status=502,
        )
    complete = data.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=data["device_code"],
        user_code=data["user_code"],
        verification_uri=data["verification_uri"],
        verification_uri_complete=complete if isinstance(complete, str) and complete else None,
        expires_in=expires_in or 0,
        interval=_positive_int(data.get("interval"), DEFAULT_INTERVAL) or DEFAULT_INTERVAL,
    )


def poll(
    provider: Provider,
    config: CounterConfig,
    authorization: DeviceAuthorization,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_event: Event = lambda what, interval: None,
) -> dict[str, Any]:
    """Poll until the citizen decides; return the token response."""
    interval = authorization.interval
    deadline = clock() + authorization.expires_in
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": authorization.device_code}
    auth = basic_auth(config.client_id, config.client_secret)
    on_event("waiting", interval)
    while True:
        if clock() + interval > deadline:  # the next poll would come too late
            on_event("expired", interval)
            raise DeviceFlowEnded(*EXPIRED)
        sleep(interval)
        try:
            token = provider.post_form("token_endpoint", form, auth)
        except OAuthErrorResponse as exc:
            if exc.error == "authorization_pending":
                on_event("pending", interval)
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                on_event("slow_down", interval)
                continue
            if exc.error == "access_denied":
                on_event("denied", interval)
                raise DeviceFlowEnded(*DENIED) from None
            if exc.error == "expired_token":
                on_event("expired", interval)
                raise DeviceFlowEnded(*EXPIRED) from None
            raise
        except ClientError as exc:
            if exc.code != "unreachable":
                raise
            interval = min(interval * 2, MAX_BACKOFF)
            on_event("unreachable", interval)
            continue
        if not isinstance(token.get("access_token"), str):
            raise ClientError(
                "bad_response",
                "The token response has no access_token.",
                "令牌响应中没有 access_token。",
                status=502,
            )
        on_event("approved", interval)
        return token
