"""Back-channel logout at the relying party — OpenID Connect Back-Channel Logout 1.0 §2.

When a sign-in session ends at the IdP, the IdP POSTs ``logout_token=<JWT>``
(``application/x-www-form-urlencoded``) to each client's registered ``backchannel_logout_uri``
(§2.5). :class:`LogoutTokenValidator` checks the token as §2.6 asks, in this order; every step
raises :class:`LogoutTokenError` with a stable ``code`` and a message that never holds the token:

1. ``read_header``        compact JWS, ``alg`` RS256 or ES256 (never ``none`` nor ``HS*``), no
                          ``crit`` (the ID-token step of :mod:`clients.website.tokens`)
2. ``check_logout_type``  ``typ``, when present, is ``logout+jwt`` (§2.4; RFC 8725 §3.11): an
                          ID token or an access token is never taken for a logout token
3. ``JwksCache.key_for`` + ``verify_jws``  the IdP's published key (the JWKS is fetched once
                          more on an unknown ``kid``), that one algorithm (§2.6 steps 2–3)
4. ``check_issuer`` / ``check_audience`` / ``check_times``  as for ID tokens (§2.6 step 4):
                          ``iss`` is ours, ``aud`` holds our ``client_id``, ``exp`` not passed
                          (with the leeway), ``iat`` present
5. ``check_events``       ``events`` has the back-channel logout member, a JSON object (step 5)
6. ``check_subject``      ``sub`` or ``sid``, or both (step 6)
7. ``check_no_nonce``     no ``nonce`` (step 7): a logout token can never pass as an ID token
8. ``check_jti``          a ``jti`` to detect replays with
9. ``ReplayCache.claim``  ``jti`` not accepted before (step 8; :mod:`.replay`). Last, so that a
                          refused token never spends a ``jti``.

:class:`BackchannelLogout` is the endpoint (§2.8): it reads the request, validates, lets the
channel end its sessions, and answers ``200`` with ``Cache-Control: no-store`` — also when no
local session matched, the logout then succeeded trivially — or ``400`` JSON
``{"error": "invalid_request", "error_description": "…"}``; never a 500. It takes and returns
werkzeug objects, so the Flask apps (portal, mini-program backend) and the plain WSGI listeners
of the app and the counter terminal (:mod:`.listener`) share it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from clients.website.tokens import (
    IdTokenError,
    JwksCache,
    check_audience,
    check_issuer,
    check_times,
    read_header,
    reworded,
    verify_jws,
)

from .errors import ClientError
from .replay import ReplayCache

BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPES: Final = frozenset({"logout+jwt", "application/logout+jwt"})  # RFC 7515 §4.1.9
MAX_BODY = 16 * 1024  # bytes of a request body; a logout token is about 1 KiB
REPLAY = "logout token already used (jti replay)"

log = logging.getLogger(__name__)


class LogoutTokenError(ClientError):
    """The logout request was refused; ``en`` is the ``error_description`` of the answer."""


@dataclass(frozen=True)
class LogoutClaims:
    """What a verified logout token says ended: one IdP session (``sid``), or when it has no
    ``sid``, every session of ``sub`` (§2.4)."""

    jti: str
    sub: str | None
    sid: str | None
    exp: float

    def names(self, sub: object, sid: object) -> bool:
        """Whether a local session signed in as ``sub`` in IdP session ``sid`` is ended."""
        if self.sid is not None:
            return sid == self.sid and (self.sub is None or sub == self.sub)
        return sub == self.sub


# --- the validation steps ------------------------------------------------------------------


def check_logout_type(header: Mapping[str, Any]) -> None:
    typ = header.get("typ")
    if typ is not None and not (isinstance(typ, str) and typ.lower() in LOGOUT_TOKEN_TYPES):
        raise LogoutTokenError(
            "bad_typ",
            f"The logout token's typ is {typ!r}, not 'logout+jwt'.",
            f"登出令牌的 typ 为 {typ!r}，而不是 'logout+jwt'。",
        )


def check_events(claims: Mapping[str, Any]) -> None:
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise LogoutTokenError(
            "bad_events",
            f"The logout token's events claim does not contain {BACKCHANNEL_EVENT}.",
            f"登出令牌的 events 声明中没有 {BACKCHANNEL_EVENT}。",
        )
    if not isinstance(events[BACKCHANNEL_EVENT], dict):
        raise LogoutTokenError(
            "bad_events",
            "The back-channel logout event in the logout token is not a JSON object.",
            "登出令牌中的后台通道退出事件不是 JSON 对象。",
        )


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise LogoutTokenError(
            f"bad_{name}",
            f"The logout token's {name} is not a non-empty string.",
            f"登出令牌的 {name} 不是非空字符串。",
        )
    return value


def check_subject(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    sub, sid = _optional_string(claims, "sub"), _optional_string(claims, "sid")
    if sub is None and sid is None:
        raise LogoutTokenError(
            "missing_sub_and_sid",
            "The logout token names neither a user (sub) nor a session (sid).",
            "登出令牌既未指明用户（sub），也未指明会话（sid）。",
        )
    return sub, sid


def check_no_nonce(claims: Mapping[str, Any]) -> None:
    if "nonce" in claims:
        raise LogoutTokenError(
            "has_nonce",
            "The logout token carries a nonce; a logout token never does.",
            "登出令牌中含有 nonce，登出令牌不得包含该声明。",
        )


def check_jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise LogoutTokenError(
            "missing_jti",
            "The logout token has no jti (a unique identifier, needed to detect replays).",
            "登出令牌缺少 jti（用于识别重放的唯一标识）。",
        )
    return jti


class LogoutTokenValidator:
    """The checks of §2.6 for one client of one issuer."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        client_id: str,
        replay: ReplayCache,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.client_id = client_id
        self.replay = replay
        self.leeway = leeway
        self.clock = clock

    def validate(self, token: str) -> LogoutClaims:
        """Return what the token ends (its ``jti`` now spent), or raise LogoutTokenError."""
        try:
            header = read_header(token)
            check_logout_type(header)
            alg = header["alg"]
            claims = verify_jws(token, self.jwks.key_for(header.get("kid"), alg), alg)
            check_issuer(claims, self.issuer)
            check_audience(claims, self.client_id)
            check_times(claims, self.clock(), self.leeway)
        except LogoutTokenError:
            raise
        except IdTokenError as exc:
            raise reworded(exc, LogoutTokenError, "logout token", "登出令牌") from None
        check_events(claims)
        sub, sid = check_subject(claims)
        check_no_nonce(claims)
        logout = LogoutClaims(jti=check_jti(claims), sub=sub, sid=sid, exp=float(claims["exp"]))
        if not self.replay.claim(logout.jti, logout.exp + self.leeway):
            raise LogoutTokenError("replay", REPLAY, "登出令牌已被使用过（jti 重放）。")
        return logout


# --- the endpoint --------------------------------------------------------------------------

EndSessions = Callable[[LogoutClaims], int]  # ends the matching local sessions, says how many


def read_logout_token(request: Request) -> str:
    """The one ``logout_token`` of a form-encoded POST body (§2.5)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise LogoutTokenError(
            "bad_content_type",
            "Send logout_token in an application/x-www-form-urlencoded body.",
            "请以 application/x-www-form-urlencoded 格式发送 logout_token。",
        )
    too_large = LogoutTokenError("too_large", "The request body is too large.", "请求体过大。")
    if (request.content_length or 0) > MAX_BODY:
        raise too_large
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise too_large
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # not UTF-8, or too many fields
        raise LogoutTokenError(
            "bad_body", "The form body cannot be read.", "无法解析表单内容。"
        ) from None
    values = form.get("logout_token", [])
    if len(values) != 1 or not values[0]:
        raise LogoutTokenError(
            "missing_logout_token",
            "The request must carry exactly one logout_token.",
            "请求中必须有且仅有一个 logout_token。",
        )
    return values[0]


def refusal(description: str) -> Response:
    body = {"error": "invalid_request", "error_description": description}
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=400,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


class BackchannelLogout:
    """The ``backchannel_logout_uri`` of one client: validate, then ``end_sessions``."""

    def __init__(self, validator: LogoutTokenValidator, end_sessions: EndSessions) -> None:
        self.validator = validator
        self.end_sessions = end_sessions

    def respond(self, request: Request) -> Response:
        try:
            logout = self.validator.validate(read_logout_token(request))
        except LogoutTokenError as exc:
            log.warning("back-channel logout refused: %s", exc.code)
            return refusal(exc.en)
        except Exception as exc:  # §2.8: a failed logout is a 400, never a 500
            log.error("back-channel logout could not be checked (%s)", type(exc).__name__)
            return refusal("The logout token could not be checked.")
        try:
            ended = self.end_sessions(logout)
        except Exception as exc:
            self.validator.replay.release(logout.jti)  # the IdP's retry must get through
            log.error("back-channel logout failed (%s)", type(exc).__name__)
            return refusal("The client could not end its session; try again.")
        log.info("back-channel logout: %d local session(s) ended", ended)
        return Response(status=200, headers={"Cache-Control": "no-store"})
