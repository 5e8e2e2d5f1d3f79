"""The two servers under test, started production-shaped on 127.0.0.1.

- **ours**: ``idp init`` and ``idp serve --workers N --no-access-log`` on a fresh PostgreSQL
  database and Redis, its own data and key directories; the citizen and the two clients made
  with the real CLI (``idp registry import``, ``idp accounts create``, ``idp clients create``).
- **peer**: ``node bench/peer/provider.js CONFIG`` — node-oidc-provider in a node cluster of N
  workers sharing state through Redis, given our clients' ids and secrets, the same citizen,
  our argon2id parameters and our token lifetimes (read from our settings).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.compare.config import (
    API_RESOURCE,
    API_SCOPE,
    PEER_DIR,
    PORTAL_ID,
    REDIRECT_URI,
    SCOPE,
    SERVICE_ID,
    Citizen,
    LoadSettings,
)
from bench.compare.stack import Child, Stack, free_port
from idp.config import Settings, load_settings
from tests.fixtures.services import PostgresServer, RedisServer

IDP = str(Path(sys.executable).with_name("idp"))


@dataclass
class Server:
    """A running server: its issuer URL, the clients' secrets, its discovery document."""

    name: str  # "ours" | "peer"
    url: str
    portal_secret: str = field(repr=False)
    service_secret: str = field(repr=False)
    child: Child
    metadata: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def path(self, key: str) -> str:
        """The path of a discovery endpoint, e.g. ``token_endpoint`` → ``/token``."""
        value = str(self.metadata[key])
        if not value.startswith(self.url):
            raise RuntimeError(f"{self.name}: {key} {value} is not under {self.url}")
        return value[len(self.url):] or "/"

    def discover(self) -> None:
        resp = requests.get(f"{self.url}/.well-known/openid-configuration", timeout=10)
        resp.raise_for_status()
        self.metadata = resp.json()


def _idp(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(  # noqa: S603 — the installed idp command, no shell
        [IDP, *args, "--json"], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
        timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"idp {' '.join(args)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else {}


def our_env(root: Path, port: int, redis: RedisServer, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_DATA_DIR": str(root / "var"),
        "IDP_KEYS_DIR": str(root / "keys"),
        "IDP_DATABASE_URL": database_url,
        "IDP_REDIS_URL": redis.url,
        "IDP_REDIS_PREFIX": "bench-ours:",
        # One citizen signs in thousands of times during the sign-in load: with the default
        # limit (10 sessions per account) each sign-in would also end the oldest session and
        # revoke its tokens — work the peer has no counterpart for, and which would revoke
        # the material prepared for the other endpoints.
        "IDP_SESSION_MAX_PER_ACCOUNT": "0",
    })
    return env


def start_ours(stack: Stack, root: Path, load: LoadSettings, redis: RedisServer,
               postgres: PostgresServer, citizen: Citizen) -> tuple[Server, Settings, str]:
    """Our IdP, serving; its settings (as the CLI loaded them); the citizen's account id."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
    env = our_env(root, port, redis, database)
    print("ours: idp init, registry import, accounts create, clients create …", flush=True)
    _idp(env, root, "init")
    registry = root / "registry.csv"
    registry.write_text(f"id_number,name\n{citizen.id_number},{citizen.name}\n",
                        encoding="utf-8")
    _idp(env, root, "registry", "import", str(registry))
    account = _idp(env, root, "accounts", "create", "--id-number", citizen.id_number,
         "--name", citizen.name, "--phone", citizen.phone, "--password-stdin",
         stdin=citizen.password + "\n")
    portal = _idp(env, root, "clients", "create", "--name", "Bench portal",
                  "--channel", "website", "--client-id", PORTAL_ID,
                  "--redirect-uri", REDIRECT_URI, "--scope", SCOPE)
    service = _idp(env, root, "clients", "create", "--name", "Bench service",
                   "--channel", "service", "--client-id", SERVICE_ID)
    child = stack.child(Child(
        "idp serve",
        [IDP, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(load.workers), "--no-access-log"],
        env=env, cwd=root, log=root / "server.log"))
    server = Server("ours", f"http://127.0.0.1:{port}", portal["client_secret"],
                    service["client_secret"], child)
    child.wait_healthy(f"{server.url}/healthz")
    server.discover()
    server.versions = _python_versions()
    return server, load_settings(env), _account_id(account)


def _account_id(created: Any) -> str:
    for key in ("id", "account_id", "sub"):
        if isinstance(created, dict) and isinstance(created.get(key), str):
            return str(created[key])
    raise RuntimeError(f"idp accounts create --json printed no account id: {created}")


def _python_versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("flask", "authlib", "joserfc", "granian", "sqlalchemy", "psycopg", "redis",
             "argon2-cffi")
    return {"python": sys.version.split()[0], **{n: version(n) for n in names}}


def peer_config(port: int, load: LoadSettings, redis: RedisServer, settings: Settings,
                citizen: Citizen, account_id: str, secrets: tuple[str, str]) -> dict[str, Any]:
    """The peer's configuration, from our settings: lifetimes of the website channel (the
    portal) and of the service channel (client credentials), our argon2id parameters."""
    website, service = settings.channels.website, settings.channels.service
    return {
        "issuer": f"http://127.0.0.1:{port}",
        "port": port,
        "workers": load.workers,
        "redis": {"url": redis.url, "prefix": "bench-peer:"},
        "clients": [
            {"client_id": PORTAL_ID, "client_secret": secrets[0],
             "redirect_uris": [REDIRECT_URI], "response_types": ["code"],
             "grant_types": ["authorization_code", "refresh_token"],
             "token_endpoint_auth_method": "client_secret_basic",
             "id_token_signed_response_alg": settings.keys.id_token_alg},
            {"client_id": SERVICE_ID, "client_secret": secrets[1], "redirect_uris": [],
             "response_types": [], "grant_types": ["client_credentials"],
             "token_endpoint_auth_method": "client_secret_basic"},
        ],
        "citizen": {"account_id": account_id, "username": citizen.username,
                    "password": citizen.password,
                    "claims": {"name": citizen.name, "gender": "male",
                               "birthdate": "1980-01-01"}},
        "argon2": {"timeCost": settings.passwords.time_cost,
                   "memoryCost": settings.passwords.memory_cost,
                   "parallelism": settings.passwords.parallelism},
        "ttl": {"AccessToken": website.access_token_ttl, "IdToken": website.id_token_ttl,
                "RefreshToken": website.refresh_token_ttl,
                "ClientCredentials": service.access_token_ttl,
                "AuthorizationCode": settings.tokens.authorization_code_ttl,
                "Grant": website.session_absolute, "Session": settings.session.absolute_ttl,
                "Interaction": 3600},
        "resource": {"indicator": API_RESOURCE, "scope": API_SCOPE},
    }


def start_peer(stack: Stack, root: Path, config: dict[str, Any]) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "peer.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the secrets
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out, ensure_ascii=False)
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed (bench/run.sh installs it)")
    print(f"peer: node-oidc-provider, {config['workers']} workers …", flush=True)
    child = stack.child(Child("peer", [node, str(PEER_DIR / "provider.js"), str(path)],
                              env=dict(os.environ), cwd=PEER_DIR, log=root / "peer.log"))
    clients = {c["client_id"]: c["client_secret"] for c in config["clients"]}
    server = Server("peer", config["issuer"], clients[PORTAL_ID], clients[SERVICE_ID], child)
    child.wait_healthy(f"{server.url}/healthz")
    server.discover()
    server.versions = _node_versions(node)
    return server


def _node_versions(node: str) -> dict[str, str]:
    found = {"node": subprocess.run([node, "--version"], capture_output=True,  # noqa: S603
                                    text=True, check=False).stdout.strip().lstrip("v")}
    for name in ("oidc-provider", "ioredis", "argon2", "jose", "koa"):
        package = PEER_DIR / "node_modules" / name / "package.json"
        if package.exists():
            found[name] = json.loads(package.read_text())["version"]
    return found

