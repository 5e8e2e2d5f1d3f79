"""Single-use material, made concurrently before each load: authorization codes, refresh tokens
and access tokens from code exchanges, and sign-in forms. Every item is made through the
server's public endpoints, exactly as a browser and a portal would make it."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.compare.client import Answer, Connection
from bench.compare.config import PORTAL_ID, REDIRECT_URI
from bench.compare.flows import Browser, Code, FlowError, SignInForm
from bench.compare.servers import Server

T = TypeVar("T")
MAKERS = 6  # client threads making material (the servers have 2 cores to share with them)
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    raw: dict[str, Any]


class Maker:
    """Makes material for one server with a signed-in :class:`Browser`."""

    def __init__(self, server: Server, browser: Browser) -> None:
        self.server = server
        self.browser = browser
        self.access_tokens: list[str] = []  # made once, for userinfo and introspection
        self._local = threading.local()

    def conn(self) -> Connection:
        """One keep-alive connection per maker thread."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = Connection(self.server.url)
        return conn

    def portal_auth(self) -> str:
        return basic(PORTAL_ID, self.server.portal_secret)

    def token_request(self, form: dict[str, str], auth: str | None = None) -> Answer:
        return self.conn().post(self.server.path("token_endpoint"), form,
                                {"Authorization": auth or self.portal_auth()})

    def exchange(self, code: Code) -> Tokens:
        answer = self.token_request({"grant_type": "authorization_code", "code": code.code,
                                     "redirect_uri": REDIRECT_URI,
                                     "code_verifier": code.verifier})
        if answer.status != 200:
            raise FlowError(f"{self.server.name}: code exchange answered {answer.status}: "
                            f"{answer.text[:300]}")
        body = json.loads(answer.body)
        return Tokens(body["access_token"], body.get("refresh_token"), body.get("id_token"),
                      body)

    def code(self, api: bool = True) -> Code:
        return self.browser.code(self.conn(), api=api)

    def tokens(self, api: bool = True) -> Tokens:
        return self.exchange(self.code(api))

    def sign_in_form(self) -> SignInForm:
        return self.browser.sign_in_form(self.conn())

    def many(self, what: str, count: int, make: Callable[[], T], *,
             budget: float | None = None) -> list[T]:
        """``count`` results of ``make()`` from :data:`MAKERS` threads; fewer when ``budget``
        seconds run out first (codes expire: they must be used soon after they are made)."""
        began = time.monotonic()
        deadline = began + budget if budget is not None else None
        lock = threading.Lock()
        made: list[T] = []
        failures: list[Exception] = []
        claimed = 0  # items being made right now or made: never more than count

        def work() -> None:
            nonlocal claimed
            while not failures:
                with lock:
                    if claimed >= count:
                        return
                    claimed += 1
                if deadline is not None and time.monotonic() > deadline:
                    return
                try:
                    item = make()
                except Exception as exc:  # reported below, once
                    failures.append(exc)
                    return
                with lock:
                    made.append(item)

        with ThreadPoolExecutor(MAKERS, thread_name_prefix=f"{self.server.name}-make") as pool:
            for _ in range(MAKERS):
                pool.submit(work)
        if failures:
            raise failures[0]
        seconds = time.monotonic() - began
        short = f" (the {budget:.0f} s budget ran out)" if len(made) < count else ""
        print(f"  {self.server.name}: {len(made)} {what} in {seconds:.1f} s "
              f"({len(made) / max(seconds, 1e-9):.0f}/s){short}", flush=True)
        return made
