"""The error type of the reference clients, and the OAuth errors they may receive.

:class:`ClientError` has the shape of the portal's :class:`~clients.website.errors.PortalError`
(which :class:`~clients.website.tokens.IdTokenError` also is): a stable ``code`` and a message in
English and Chinese that never holds a token or a secret. Catching ``PortalError`` catches both.

- RFC 6749 §5.2: token endpoint error responses (``{"error", "error_description"}``).
- RFC 8628 §3.5: the device grant's polling errors.
- RFC 6750 §3.1: bearer-token errors of UserInfo and the app API.
"""

from __future__ import annotations

import re

from clients.website.errors import PortalError

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


class ClientError(PortalError):
    """Something the person at the terminal (or the caller of a backend) must be told."""


def one_line(text: object, limit: int = 200) -> str:
    """A peer's free text made safe for one terminal line or log line: no control characters."""
    return _UNPRINTABLE.sub(" ", str(text)).strip()[:limit]


IDP = ("the identity provider", "统一身份认证平台")  # (English, 中文) name of a peer


def unreachable(exc: Exception, peer: tuple[str, str] = IDP) -> ClientError:
    """A network failure, named by the exception type only (never the URL or the request)."""
    return ClientError(
        "unreachable",
        f"{peer[0][:1].upper()}{peer[0][1:]} could not be reached ({type(exc).__name__}).",
        f"无法连接{peer[1]}（{type(exc).__name__}）。",
        status=502,
    )


# error code -> (English, 中文): what it means for the client, and what to do.
OAUTH_ERRORS: dict[str, tuple[str, str]] = {
    "invalid_request": (
        "the request was malformed (a bug in this client)",
        "请求格式有误（客户端程序缺陷）",
    ),
    "invalid_client": (
        "the IdP did not accept this client's credentials (client_id / client_secret), or the "
        "client is suspended",
        "统一身份认证平台未能认证本客户端的凭据（client_id / client_secret），或客户端已停用",
    ),
    "invalid_grant": (
        "the code, token or grant is invalid, expired, already used, or the sign-in session "
        "has ended",
        "授权码、令牌或授权无效、已过期、已被使用，或登录会话已结束",
    ),
    "unauthorized_client": (
        "this client may not use this grant; ask the IdP's staff",
        "本客户端未获准使用此授权方式，请联系统一身份认证平台运维人员",
    ),
    "unsupported_grant_type": (
        "the IdP does not offer this grant",
        "统一身份认证平台不支持此授权方式",
    ),
    "invalid_scope": (
        "a requested scope is unknown or not allowed for this client",
        "申请的权限范围（scope）未知或未获准",
    ),
    "invalid_target": (
        "the requested audience or resource is not allowed",
        "申请的目标受众或资源未获准",
    ),
    "access_denied": ("the citizen declined", "市民拒绝了请求"),
    "expired_token": (
        "the code expired before the citizen approved it",
        "代码已过期，市民未及时确认",
    ),
    "authorization_pending": ("the citizen has not answered yet", "市民尚未确认"),
    "slow_down": ("polling too fast", "轮询过于频繁"),
    "invalid_token": (
        "the access token is invalid, expired or revoked, or its session has ended",
        "访问令牌无效、已过期或已撤销，或其登录会话已结束",
    ),
    "insufficient_scope": (
        "the access token does not allow this call",
        "访问令牌无权调用此接口",
    ),
    "server_error": ("the IdP failed; try again later", "统一身份认证平台出错，请稍后再试"),
    "temporarily_unavailable": (
        "the IdP is overloaded; try again later",
        "统一身份认证平台繁忙，请稍后再试",
    ),
}


class OAuthErrorResponse(ClientError):
    """The IdP answered with an OAuth error: ``error`` is its code, ``description`` its own
    text (one line, clipped), ``http_status`` the HTTP status it came with."""

    def __init__(
        self, where: str, error: str, description: str | None = None, *, http_status: int = 400
    ) -> None:
        self.error = one_line(error, 64) or "invalid_response"
        self.description = one_line(description or "")
        self.http_status = http_status
        en, zh = OAUTH_ERRORS.get(self.error, ("", ""))
        where = where[:1].upper() + where[1:]
        super().__init__(
            self.error,
            # The IdP's own text (English) follows ours; the Chinese line keeps to our words.
            f"{where} refused ({self.error}){': ' + en if en else ''}"
            f"{' — ' + self.description if self.description else ''}",
            f"{where} 返回错误（{self.error}）{'：' + zh if zh else ''}",
        )
