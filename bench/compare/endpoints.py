"""The endpoints under load, and the request pool each one replays (bench/compare/lua/pool.lua:
one request a line — method, path, body, headers, tab-separated).

Reusable requests (discovery, JWKS, client credentials, and a pool of distinct access tokens
for userinfo and introspection) are cycled; single-use ones (codes, refresh tokens, sign-in
forms) are each sent once, and only a 200 (a 302/303 for the sign-in) with the right body
counts: a replayed code or refresh token is answered 400 and shows up as an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from bench.compare.config import API_SCOPE, REDIRECT_URI, SERVICE_ID
from bench.compare.material import FORM, Maker, basic

ACCESS_TOKENS = 1000  # distinct access tokens cycled by the userinfo and introspection loads


def line(method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> str:
    fields = [method, path, body, *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if any("\t" in f or "\n" in f for f in fields):
        raise ValueError(f"a request field holds a tab or a newline: {fields}")
    return "\t".join(fields)


Build = Callable[[Maker, int, float], list[str]]


@dataclass(frozen=True)
class Endpoint:
    name: str
    title: str
    mode: str  # "cycle" (reusable requests) | "once" (single-use requests)
    ok: str  # statuses that count as success
    build: Build  # (maker, items wanted, seconds a code may wait) -> pool lines
    pattern: str = ""  # a Lua pattern a successful body must contain

    @property
    def single_use(self) -> bool:
        return self.mode == "once"


def _token_post(maker: Maker, body: dict[str, str], auth: str) -> str:
    return line("POST", maker.server.path("token_endpoint"), urlencode(body),
                {"Authorization": auth, "Content-Type": FORM})


def _discovery(maker: Maker, n: int, budget: float) -> list[str]:
    return [line("GET", "/.well-known/openid-configuration")]


def _jwks(maker: Maker, n: int, budget: float) -> list[str]:
    return [line("GET", maker.server.path("jwks_uri"))]


def _client_credentials(maker: Maker, n: int, budget: float) -> list[str]:
    body = {"grant_type": "client_credentials"}
    if maker.browser.peer:  # its resource server's scope; ours grants the client's scope
        body["scope"] = API_SCOPE
    return [_token_post(maker, body, basic(SERVICE_ID, maker.server.service_secret))]


def _access_tokens(maker: Maker) -> list[str]:
    """Access tokens of the citizen, made once per server and shared by userinfo and
    introspection. The peer's are opaque: node-oidc-provider accepts neither a JWT access
    token at userinfo nor one issued for a resource server (RFC 9068) at introspection."""
    if not maker.access_tokens:
        made = maker.many("access tokens", ACCESS_TOKENS, lambda: maker.tokens(api=False))
        maker.access_tokens = [t.access_token for t in made]
    return maker.access_tokens


def _userinfo(maker: Maker, n: int, budget: float) -> list[str]:
    path = maker.server.path("userinfo_endpoint")
    return [line("GET", path, "", {"Authorization": f"Bearer {token}"})
            for token in _access_tokens(maker)]


def _introspection(maker: Maker, n: int, budget: float) -> list[str]:
    path = maker.server.path("introspection_endpoint")
    auth = basic(SERVICE_ID, maker.server.service_secret)
    return [line("POST", path, urlencode({"token": token, "token_type_hint": "access_token"}),
                 {"Authorization": auth, "Content-Type": FORM})
            for token in _access_tokens(maker)]


def _authorization_code(maker: Maker, n: int, budget: float) -> list[str]:
    codes = maker.many("authorization codes", n, maker.code, budget=budget)
    return [_token_post(maker, {"grant_type": "authorization_code", "code": c.code,
                                "redirect_uri": REDIRECT_URI, "code_verifier": c.verifier},
                        maker.portal_auth())
            for c in codes]


def _refresh_token(maker: Maker, n: int, budget: float) -> list[str]:
    made = maker.many("refresh tokens", n, maker.tokens, budget=budget)
    lines = []
    for tokens in made:
        if tokens.refresh_token is None:
            raise RuntimeError(f"{maker.server.name}: a code exchange gave no refresh token")
        body = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        if maker.browser.peer:
            # Ours answers a refresh with an access and a refresh token; node-oidc-provider
            # adds an ID token (one more RS256 signature) whenever the scope holds openid.
            # Narrowing the scope to the API's makes it do the same work as ours.
            body["scope"] = API_SCOPE
        lines.append(_token_post(maker, body, maker.portal_auth()))
    return lines


def _sign_in(maker: Maker, n: int, budget: float) -> list[str]:
    forms = maker.many("sign-in forms", n, maker.sign_in_form, budget=budget)
    return [line("POST", f.path, f.body, {"Cookie": f.cookie, "Content-Type": FORM})
            for f in forms]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("discovery", "discovery", "cycle", "200", _discovery, '"issuer"'),
    Endpoint("jwks", "JWKS", "cycle", "200", _jwks, '"keys"'),
    Endpoint("client_credentials", "token (client_credentials)", "cycle", "200",
             _client_credentials, '"access_token"'),
    Endpoint("authorization_code", "token (authorization_code)", "once", "200",
             _authorization_code, '"id_token"'),
    Endpoint("refresh_token", "token (refresh_token)", "once", "200", _refresh_token,
             '"refresh_token"'),
    Endpoint("introspection", "introspection", "cycle", "200", _introspection,
             '"active":%s*true'),
    Endpoint("userinfo", "userinfo", "cycle", "200", _userinfo, '"sub"'),
    Endpoint("sign_in", "sign-in POST", "once", "302,303", _sign_in),
)
# Loaded in this order: the reusable first; the sign-in last (it adds sessions).
LOAD_ORDER = ("discovery", "jwks", "client_credentials", "userinfo", "introspection",
              "refresh_token", "authorization_code", "sign_in")
