"""How the portal shows claims and tokens: labels, order, times, and token prefixes.

Raw tokens are never rendered: :func:`token_prefix` shows at most the first 8 characters.
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


def format_time(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    try:
        moment = datetime.fromtimestamp(value, UTC).astimezone(CST)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return f"{moment:%Y-%m-%d %H:%M:%S} (UTC+8)"


def format_value(name: str, value: Any) -> str:
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


def token_prefix(token: str | None) -> str:
    """The first 8 characters and an ellipsis: enough to tell tokens apart, useless to a thief."""
    if not token:
        return "—"
    return f"{token[:8]}…"
