"""How the portal shows claims and tokens: labels, order, times, and token prefixes.

Raw tokens are never rendered: :func:`token_prefix` shows at most the first 8 characters.
The citizen ID number (``id_number``, released with the ``id_card`` scope) is never rendered
whole either: :func:`mask_id_number` keeps the first 4 and last 4 characters. This page is a
demo, shown on screens and in screenshots; a real portal uses the number server-side (e.g. to
file a claim) and shows at most this masked form — the same one the IdP's consent page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# China Standard Time, the portal's display zone (no tzdata needed).
CST = timezone(timedelta(hours=8), "UTC+8")

# Claims shown first, in this order, with their Chinese label; any other claim follows.
CLAIM_LABELS: dict[str, str] = {
    "sub": "用户标识",
    "name": "姓名",
    "phone_number": "手机号码",
    "phone_number_verified": "手机号已验证",
    "id_number": "公民身份号码",
    "acr": "认证等级",
    "amr": "认证方式",
    "auth_time": "认证时间",
    "sid": "会话标识",
    "iss": "签发者",
    "aud": "受众",
    "azp": "授权方",
    "iat": "签发时间",
    "exp": "过期时间",
    "nonce": "随机数",
    "at_hash": "访问令牌摘要",
}
TIME_CLAIMS = frozenset({"auth_time", "iat", "exp", "nbf", "updated_at"})
ID_NUMBER = "id_number"


def mask_id_number(value: Any) -> str:
    """``1101**********002X``: first 4 and last 4 characters; anything shorter is all stars."""
    text = str(value)
    if len(text) <= 8:
        return "*" * len(text)
    return f"{text[:4]}{'*' * (len(text) - 8)}{text[-4:]}"


def format_time(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    try:
        moment = datetime.fromtimestamp(value, UTC).astimezone(CST)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return f"{moment:%Y-%m-%d %H:%M:%S} (UTC+8)"


def format_value(name: str, value: Any) -> str:
    if name == ID_NUMBER:
        return mask_id_number(value)
    if name == "verified_claims":  # OIDC4IDA: may carry the number too; show it masked
        return format_value("", _masked_verified(value))
    if name in TIME_CLAIMS:
        return f"{value} — {format_time(value)}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def claim_rows(claims: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(claim name, Chinese label, display value) rows, known claims first."""
    known = [name for name in CLAIM_LABELS if name in claims]
    rest = sorted(name for name in claims if name not in CLAIM_LABELS)
    return [
        (name, CLAIM_LABELS.get(name, ""), format_value(name, claims[name]))
        for name in known + rest
    ]


def _masked_verified(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: mask_id_number(v) if k == ID_NUMBER else _masked_verified(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_verified(item) for item in value]
    return value


def sign_in_summary(claims: Mapping[str, Any], userinfo: Mapping[str, Any]) -> dict[str, str]:
    """What this sign-in achieved: the level (``acr``), the methods (``amr``) and, when the
    IdP released it, the ID number — masked."""
    summary = {"acr": str(claims.get("acr") or "—"),
               "amr": format_value("amr", claims.get("amr") or "—")}
    number = userinfo.get(ID_NUMBER) or claims.get(ID_NUMBER)
    if number:
        summary[ID_NUMBER] = mask_id_number(number)
    return summary


def token_prefix(token: str | None) -> str:
    """The first 8 characters and an ellipsis: enough to tell tokens apart, useless to a thief."""
    if not token:
        return "—"
    return f"{token[:8]}…"
