"""What each ``python -m clients.app`` command does; :mod:`.cli` parses and dispatches.

Every command prints its result on stdout (a short text, or JSON with ``--json``), talks to the
person on stderr, and raises :class:`~clients.common.errors.ClientError` for anything that went
wrong. Tokens are shown as 8-character prefixes only.
"""

from __future__ import annotations

import sys
import time
import webbrowser
from collections.abc import Callable
from typing import Any, TextIO

from clients.common.cli import EXIT_OK, claim_lines, emit_json
from clients.common.errors import ClientError
from clients.common.http import Transport, requests_transport
from clients.common.listener import SIGNED_OUT, listen, state_file_listener
from clients.common.provider import Provider
from clients.website.display import format_time, token_prefix

from . import approvals, statefile
from .config import AppConfig
from .exchange import MINIPROGRAM, start_miniprogram_session
from .loopback import LoopbackListener
from .signin import (
    build_authorization_request,
    check_callback,
    check_id_token,
    new_record,
    oauth_session,
    redeem,
    refresh,
)

EXPIRY_MARGIN = 30  # seconds: an access token this close to expiry is refreshed first


# What the phone shows about a QR sign-in before the citizen decides (POST /api/qr/scan).
SCAN_LABELS = {
    "browser": "浏览器 / browser",
    "next_client": "将登录 / continues to",
    "requested_at": "请求时间 / requested at",
    "expires_at": "有效期至 / valid until",
}


def scan_lines(scan: dict[str, Any]) -> list[str]:
    names = [n for n in SCAN_LABELS if scan.get(n) is not None]
    names += sorted(n for n in scan if n not in SCAN_LABELS and n != "status")
    width = max((len(SCAN_LABELS.get(n, n)) for n in names), default=0)
    lines = []
    for name in names:
        value = scan[name]
        shown = format_time(value) if name.endswith("_at") else str(value)
        lines.append(f"  {SCAN_LABELS.get(name, name):<{width}}  {shown}")
    return lines


class AppCommands:
    def __init__(
        self,
        config: AppConfig,
        *,
        as_json: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        transport: Transport | None = None,
        open_url: Callable[[str], object] = webbrowser.open,
    ) -> None:
        self.config = config
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.transport = transport  # None: the real network
        self.provider = Provider(
            config.issuer, transport or requests_transport(config.http_timeout)
        )
        self.backend = transport or requests_transport(config.http_timeout, peer=MINIPROGRAM)
        self.open_url = open_url

    # --- helpers ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def result(self, data: dict[str, Any], lines: list[str]) -> int:
        if self.as_json:
            emit_json(data, self.out)
        else:
            print("\n".join(lines), file=self.out)
        return EXIT_OK

    def record(self) -> dict[str, Any]:
        """The stored sign-in, refreshed first when its access token is (nearly) expired."""
        record = statefile.load(self.config.state_file)
        expires_at = record.get("expires_at")
        if isinstance(expires_at, int) and expires_at - EXPIRY_MARGIN <= time.time():
            self.say("访问令牌已过期，正在刷新… / The access token has expired; refreshing…")
            record = self._rotate(record)
        return record

    def _rotate(self, record: dict[str, Any]) -> dict[str, Any]:
        try:
            updated = refresh(self.provider, self.config, record, self.transport)
        except ClientError as exc:
            if exc.code == "session_revoked":
                statefile.delete(self.config.state_file)
            raise
        statefile.save(self.config.state_file, updated)
        return updated

    # --- commands --------------------------------------------------------------------------

    def login(self, *, open_browser: bool, timeout: float) -> int:
        metadata = self.provider.metadata()
        with LoopbackListener() as listener:
            session = oauth_session(self.config, listener.redirect_uri, self.transport)
            request = build_authorization_request(
                session, self.provider.endpoint("authorization_endpoint"), listener.redirect_uri
            )
            self.say("请在浏览器中打开以下地址登录 / Open this URL in a browser to sign in:")
            self.say(request.url)
            if open_browser:
                self.open_url(request.url)
            self.say(f"等待登录结果（{listener.redirect_uri}）… / Waiting for the sign-in…")
            params = listener.wait(request.state, timeout)
        code = check_callback(params, self.config.issuer, metadata)
        token = redeem(session, self.provider.endpoint("token_endpoint"), request, code)
        claims = check_id_token(self.provider, self.config, token, request.nonce)
        record = new_record(self.config, token, claims, request.nonce)
        statefile.save(self.config.state_file, record)
        return self.result(
            {
                "sub": claims["sub"],
                "sid": claims.get("sid"),
                "acr": claims.get("acr"),
                "auth_time": claims.get("auth_time"),
                "scope": record["scope"],
                "expires_at": record["expires_at"],
                "state_file": str(self.config.state_file),
                "access_token": token_prefix(record["access_token"]),
                "refresh_token": token_prefix(record["refresh_token"]),
            },
            [
                f"已登录 / Signed in: sub {claims['sub']}, sid {claims.get('sid')}",
                f"令牌已保存 / Tokens saved to {self.config.state_file} (mode 600): access "
                f"{token_prefix(record['access_token'])}, refresh "
                f"{token_prefix(record['refresh_token'])}",
            ],
        )

    def refresh(self) -> int:
        record = self._rotate(statefile.load(self.config.state_file))
        return self.result(
            {
                "sub": record["claims"]["sub"],
                "sid": record["claims"].get("sid"),
                "rotated": record["rotated"],
                "refreshes": record["refreshes"],
                "expires_at": record["expires_at"],
                "access_token": token_prefix(record["access_token"]),
                "refresh_token": token_prefix(record["refresh_token"]),
            },
            [
                f"已刷新 / Refreshed: access {token_prefix(record['access_token'])}, refresh "
                f"{token_prefix(record['refresh_token'])} "
                + ("(已轮换 / rotated)" if record["rotated"] else "(not rotated)")
            ],
        )

    def whoami(self) -> int:
        record = self.record()
        claims = self.provider.userinfo(record["access_token"], record["claims"]["sub"])
        sid = record["claims"].get("sid")
        return self.result(
            {"userinfo": claims, "sid": sid},
            [
                str(claims.get("name") or claims["sub"]),
                *claim_lines(claims),
                f"会话 / session (sid): {sid}",
            ],
        )

    def approve_qr(self, value: str, allow: bool) -> int:
        ticket = approvals.ticket_from(value, self.config.issuer)
        token = self.record()["access_token"]
        scan = approvals.scan_qr(self.provider, token, ticket)
        self.say("扫码登录请求 / QR sign-in request:")
        for line in scan_lines(scan):
            self.say(line)
        answer = approvals.confirm_qr(self.provider, token, ticket, allow)
        status = answer.get("status")
        text = {
            "confirmed": "已确认：该浏览器将完成登录 / Confirmed: that browser will now be "
            "signed in.",
            "denied": "已拒绝：该浏览器不会登录 / Denied: that browser will not be signed in.",
        }.get(str(status), f"IdP answered status {status!r}")
        return self.result({"scan": scan, "result": answer}, [text])

    def approve_device(self, value: str, allow: bool) -> int:
        code = approvals.normalise_user_code(value)
        token = self.record()["access_token"]
        info = approvals.lookup_device(self.provider, token, code)
        scopes = info.get("scopes")
        scope_text = " ".join(scopes) if isinstance(scopes, list) else str(scopes)
        self.say(
            f"终端 / Terminal: {info.get('client_name')} — 申请 / asks for: {scope_text} "
            f"(有效 / expires in {info.get('expires_in')} s)"
        )
        answer = approvals.approve_device(self.provider, token, code, allow)
        status = answer.get("status")
        text = {
            "approved": f"已同意 / Approved: {answer.get('client_name')} is signed in as you.",
            "denied": f"已拒绝 / Denied: {answer.get('client_name')} will not be signed in.",
        }.get(str(status), f"IdP answered status {status!r}")
        return self.result({"device": info, "result": answer}, [text])

    def exchange(self, url: str) -> int:
        token = self.record()["access_token"]
        session = start_miniprogram_session(self.backend, url, token)
        shown = {**session}
        if isinstance(shown.get("session_id"), str):
            shown["session_id"] = token_prefix(shown["session_id"])
        return self.result(
            shown,
            [
                f"小程序会话已建立 / Mini-program session started: {session.get('name')} "
                f"(sub {session['sub']}, sid {session.get('sid')}, session "
                f"{token_prefix(session.get('session_id'))})"
            ],
        )

    def logout_local(self) -> int:
        existed = statefile.delete(self.config.state_file)
        text = (
            "已退出本应用；统一身份认证的登录状态仍然保留 / Signed out of this app only "
            "(tokens deleted); your Unified Identity session continues."
            if existed
            else "本来就未登录 / Not signed in: nothing to delete."
        )
        return self.result({"deleted": existed, "state_file": str(self.config.state_file)}, [text])

    def status(self) -> int:
        """What the state file says, without the network: signed in, signed out by the IdP
        (back-channel logout, see ``listen``), or not signed in."""
        record = statefile.peek(self.config.state_file)
        claims = (record or {}).get("claims") or {}
        data: dict[str, Any] = {
            "signed_in": record is not None and SIGNED_OUT not in record,
            "sub": claims.get("sub"),
            "sid": claims.get("sid"),
            "state_file": str(self.config.state_file),
        }
        if record is None:
            return self.result(data, ["尚未登录 / Not signed in."])
        if SIGNED_OUT in record:
            when = format_time(record[SIGNED_OUT])
            data[SIGNED_OUT] = record[SIGNED_OUT]
            return self.result(
                data,
                [
                    f"统一身份认证平台已于 {when} 将本应用退出（后台通道退出），本地令牌已删除。",
                    f"The IdP signed this app out at {when} (back-channel logout, sid "
                    f"{claims.get('sid')}); the local tokens were deleted. Run `login` again.",
                ],
            )
        data["expires_at"] = record.get("expires_at")
        expiry = format_time(record.get("expires_at")) if record.get("expires_at") else "—"
        return self.result(
            data,
            [
                f"已登录 / Signed in: sub {claims.get('sub')}, sid {claims.get('sid')}",
                f"访问令牌有效期至 / Access token valid until: {expiry}",
            ],
        )

    def listen(self, host: str, port: int) -> int:
        """Run the back-channel logout listener for the sign-in in the state file."""
        server = state_file_listener(
            self.provider,
            client_id=self.config.client_id,
            state_file=self.config.state_file,
            host=host,
            port=port,
            leeway=self.config.leeway,
            version=statefile.VERSION,
        )
        return listen(server, self.say)
