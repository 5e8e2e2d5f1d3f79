"""The loopback redirect of a native app — RFC 8252 §7.3 and §8.3.

The app listens on ``127.0.0.1`` (not ``localhost``: §8.3) on a port the operating system picks,
and sends ``http://127.0.0.1:<port>/callback`` as its redirect URI; the IdP matches it against
the registered ``http://127.0.0.1/callback`` on any port. The listener answers the browser with
a short page and hands the query parameters to the app — only for a response whose ``state``
is the one this sign-in sent (anything else on the port is answered and ignored), and it never
logs the request line, which carries the authorization code.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from clients.common.errors import ClientError

CALLBACK_PATH = "/callback"

DONE_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>一网通办 App</title><body style="font:18px sans-serif;margin:3em">
<p>登录结果已交给一网通办 App，可以关闭此页面。</p>
<p>The sign-in response reached the app: you can close this tab.</p></body></html>"""
STRAY_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>一网通办 App</title><body style="font:18px sans-serif;margin:3em">
<p>此响应不属于 App 正在进行的登录，已忽略。</p>
<p>This response does not belong to the sign-in the app started; it was ignored.</p>
</body></html>"""


class _Server(HTTPServer):
    expected_state: str = ""
    result: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a connected browser may take to send its request

    def do_GET(self) -> None:  # noqa: N802 — the http.server hook name
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self._answer(404, STRAY_PAGE)
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        params = {name: values[0] for name, values in query.items()}
        repeated = any(len(values) > 1 for values in query.values())  # RFC 6749 §3.1
        state = params.get("state", "")
        expected = self.server.expected_state
        if repeated or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
            self._answer(400, STRAY_PAGE)
            return
        self.server.result = params
        self._answer(200, DONE_PAGE)

    def _answer(self, status: int, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # the request line holds the authorization code: never log it


class LoopbackListener:
    """``with LoopbackListener() as listener: … listener.wait(state, timeout)``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0), _Handler)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def wait(
        self, state: str, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> dict[str, str]:
        """The query parameters of the first ``/callback`` request carrying ``state``."""
        self._server.expected_state = state
        deadline = clock() + timeout
        while self._server.result is None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise ClientError(
                    "login_timeout",
                    f"No sign-in response arrived within {timeout:g} s; run `login` again.",
                    f"{timeout:g} 秒内未收到登录结果，请重新运行 `login`。",
                )
            self._server.timeout = min(remaining, 1.0)
            self._server.handle_request()
        return self._server.result

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
