"""The authorization response as the portal receives it at ``/callback``.

- RFC 9207 §2.4 (mix-up defence): a response that carries ``iss`` must name our issuer; when the
  IdP's discovery document says ``authorization_response_iss_parameter_supported``, a response
  without ``iss`` is refused too.
- RFC 6749 §4.1.2.1, §5.2 and OpenID Connect Core §3.1.2.6: the error codes the portal may see,
  each with what it means for the citizen and what the department should do.
"""

from __future__ import annotations

from .errors import PortalError

# error code -> (English, 中文): what it means and what to do.
ERROR_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "invalid_request": (
        "The sign-in request was malformed. The portal's integration needs fixing.",
        "登录请求格式有误，需要门户开发人员修正对接参数。",
    ),
    "invalid_client": (
        "The identity provider did not accept this portal's client credentials. "
        "Check client_id / client_secret and that the client is not suspended.",
        "统一身份认证平台未能认证本门户的客户端凭据，请检查 client_id / client_secret，"
        "并确认客户端未被停用。",
    ),
    "invalid_grant": (
        "The authorization code or refresh token is invalid, expired, already used, or the "
        "sign-in session has ended. Please sign in again.",
        "授权码或刷新令牌无效、已过期、已被使用，或登录会话已结束。请重新登录。",
    ),
    "unauthorized_client": (
        "This portal is not allowed to use this kind of sign-in. Ask the IdP's operators.",
        "本门户未获准使用此种登录方式，请联系统一身份认证平台运维人员。",
    ),
    "unsupported_response_type": (
        "The identity provider does not support the requested response type.",
        "统一身份认证平台不支持所请求的响应类型。",
    ),
    "unsupported_grant_type": (
        "The identity provider does not support the requested grant type.",
        "统一身份认证平台不支持所请求的授权类型。",
    ),
    "access_denied": (
        "You cancelled the sign-in or did not grant this portal access.",
        "您取消了登录，或未同意向本门户授权。",
    ),
    "invalid_scope": (
        "The portal asked for data (scope) it is not allowed to receive.",
        "本门户申请了未获准的数据范围（scope）。",
    ),
    "server_error": (
        "The identity provider had an internal error. Please try again later.",
        "统一身份认证平台内部错误，请稍后再试。",
    ),
    "temporarily_unavailable": (
        "The identity provider is busy or under maintenance. Please try again later.",
        "统一身份认证平台繁忙或正在维护，请稍后再试。",
    ),
    "login_required": (
        "You are not signed in at the identity provider (silent sign-in was requested).",
        "您尚未在统一身份认证平台登录（本次为静默登录请求）。",
    ),
    "consent_required": (
        "The identity provider needs your consent before it can share data with this portal.",
        "统一身份认证平台需要您同意后才能向本门户提供数据。",
    ),
    "interaction_required": (
        "The identity provider needs you to act (e.g. confirm) before signing you in.",
        "统一身份认证平台需要您进行操作（如确认）后才能完成登录。",
    ),
    # Not an OAuth code: raised by Authlib when the state of a response is not pending here.
    "mismatching_state": (
        "This sign-in response does not match a sign-in started here. Please sign in again.",
        "该登录响应与本门户发起的登录不符，请重新登录。",
    ),
}


class AuthorizationError(PortalError):
    """The IdP answered with an OAuth error (at the redirect or at the token endpoint)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        en, zh = ERROR_EXPLANATIONS.get(
            error,
            ("The identity provider returned an error.", "统一身份认证平台返回了错误。"),
        )
        super().__init__(error, en, zh)
        # The IdP's own text, shown escaped and clipped: it arrives in a URL anyone can craft.
        self.description = (description or "")[:300]


def check_response_issuer(iss: str | None, issuer: str, iss_supported: bool) -> None:
    """RFC 9207 §2.4: refuse a response from an IdP other than the one we sent the user to."""
    if iss is None and not iss_supported:
        return
    if iss != issuer:
        raise PortalError(
            "issuer_mismatch",
            "The sign-in response did not come from the expected identity provider "
            f"(iss is {iss!r}, expected {issuer!r}). It was refused to prevent a mix-up attack.",
            f"登录响应并非来自预期的统一身份认证平台（iss 为 {iss!r}，应为 {issuer!r}），"
            "为防止混淆攻击已拒绝。",
        )
