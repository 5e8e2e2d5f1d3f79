"""The counter channel's device authorization grant (RFC 8628), end to end over real HTTP.

Every test runs on both stacks (SQLite + embedded store, PostgreSQL + Redis) against a real
``idp serve``: a terminal (the demo counter client) starts a sign-in, a citizen approves it in a
signed-in browser or from the app, the terminal polls the token endpoint. Tokens are verified
with python-jose against the published JWKS; "nothing issued" is read from the server's own
database. Expiry and the user-code guessing limits use a second server on the same stack with a
4-second lifetime, a limit of 3 and one trusted proxy hop, so each test speaks from its own
client IP (``X-Forwarded-For``).
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

import pytest
import requests
from jose import jwt as jose_jwt
from sqlalchemy import column, create_engine, func, select, table, text
from sqlalchemy.sql.expression import Executable

from tests.e2e.oidc_client import Login, RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.server import IdpServer

pytestmark = pytest.mark.e2e

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")
APP_REDIRECT = "http://127.0.0.1/callback"
STRICT_TTL, STRICT_LIMIT = 4, 3


# -- the parties --------------------------------------------------------------------------------
class Terminal:
    """A counter terminal: a confidential client that starts device flows and polls."""

    def __init__(self, server: IdpServer, client_id: str, secret: str) -> None:
        self.server, self.client_id, self.secret = server, client_id, secret
        self.http = requests.Session()

    @classmethod
    def demo(cls, server: IdpServer) -> Terminal:
        counter = server.demo["clients"]["counter"]
        return cls(server, counter["client_id"], counter["client_secret"])

    @classmethod
    def register(cls, server: IdpServer) -> Terminal:
        data = server.create_client("--name", f"counter-{uuid.uuid4().hex[:6]}",
                                    "--channel", "counter")
        return cls(server, data["client_id"], data["client_secret"])

    def start(self, *, auth: str = "basic", **params: str) -> requests.Response:
        body, basic = dict(params), (self.client_id, self.secret)
        if auth == "post":
            body.update(client_id=self.client_id, client_secret=self.secret)
            basic = None  # type: ignore[assignment]
        return self.http.post(f"{self.server.url}/device_authorization", data=body,
                              auth=basic, timeout=20)

    def begin(self, **params: str) -> dict[str, Any]:
        resp = self.start(**params)
        assert resp.status_code == 200, resp.text
        flow: dict[str, Any] = resp.json()
        return flow

    def poll(self, device_code: str) -> requests.Response:
        return self.http.post(f"{self.server.url}/token", auth=(self.client_id, self.secret),
                              data={"grant_type": DEVICE, "device_code": device_code},
                              timeout=20)

    def error(self, device_code: str) -> str:
        resp = self.poll(device_code)
        assert resp.status_code in (400, 401), resp.text
        assert "access_token" not in resp.text
        return str(resp.json()["error"])


class AppApi:
    """The citizen's app, signed in with code + PKCE, calling the device approval API."""

    def __init__(self, server: IdpServer, login: Login) -> None:
        self.server, self.login = server, login
        self.headers = {"Authorization": f"Bearer {login.tokens['access_token']}"}

    def lookup(self, user_code: str, ip: str | None = None) -> requests.Response:
        return requests.get(f"{self.server.url}/api/device", params={"user_code": user_code},
                            headers={**self.headers, **_from(ip)}, timeout=20)

    def approve(self, user_code: str, decision: str = "allow",
                ip: str | None = None) -> requests.Response:
        return requests.post(f"{self.server.url}/api/device/approve",
                             json={"user_code": user_code, "decision": decision},
                             headers={**self.headers, **_from(ip)}, timeout=20)


def _from(ip: str | None) -> dict[str, str]:
    return {"X-Forwarded-For": ip} if ip else {}


def app_login(server: IdpServer, who: dict[str, Any]) -> AppApi:
    app = RelyingParty(server, "demo-app", None, APP_REDIRECT)
    return AppApi(server, app.login(UserAgent(server.url), who, pkce=True, auth="none"))


def browser(server: IdpServer, who: dict[str, Any] | None = None) -> UserAgent:
    agent = UserAgent(server.url)
    agent.http.headers["Accept-Language"] = "en"
    if who is not None:
        assert agent.login(who["username"], who["password"]).status_code == 302
    return agent


def open_code(agent: UserAgent, user_code: str, ip: str | None = None) -> requests.Response:
    """Enter a user code on the page: GET /device (pre-filled), POST it (CSRF)."""
    page = agent._get("/device", params={"user_code": user_code}, headers=_from(ip))
    assert page.status_code == 200
    return agent._post("/device", data={"csrf_token": agent.csrf(page), "user_code": user_code},
                       headers=_from(ip))


def decide(agent: UserAgent, confirm: requests.Response, decision: str) -> requests.Response:
    assert confirm.status_code == 200 and 'name="decision"' in confirm.text, confirm.text
    return agent._post("/device", data={"csrf_token": agent.csrf(confirm),
                                        "user_code": agent._hidden(confirm, "user_code"),
                                        "decision": decision})


def guess() -> str:
    code = "".join(random.choice(ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def fresh_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


# -- verification and the server's own records ----------------------------------------------------
def verify(server: IdpServer, token: str, client_id: str,
           access_token: str | None = None) -> dict[str, Any]:
    jwks = requests.get(f"{server.url}/jwks.json", timeout=10).json()
    header = jose_jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims: dict[str, Any] = jose_jwt.decode(token, key, algorithms=[header["alg"]],
                                             audience=client_id, issuer=server.url,
                                             access_token=access_token)
    return claims


def _query(server: IdpServer, sql: str | Executable, **params: Any) -> list[Any]:
    url = server.env.get("IDP_DATABASE_URL") or f"sqlite:///{server.root / 'var' / 'idp.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text(sql) if isinstance(sql, str) else sql
            return list(conn.execute(query, params))
    finally:
        engine.dispose()


def tokens_of(server: IdpServer, client_id: str) -> int:
    return int(_query(server, "SELECT count(*) FROM tokens WHERE client_id = :c",
                      c=client_id)[0][0])


AUDIT = table("audit_events", column("tag"), column("subject"), column("client_id"),
              column("ip"))


def audit_count(server: IdpServer, tag: str, **where: str) -> int:
    query = select(func.count()).select_from(AUDIT).where(
        AUDIT.c.tag == tag, *(AUDIT.c[name] == value for name, value in where.items()))
    return int(_query(server, query)[0][0])
