"""Key-lifecycle fixtures: services on a fake clock with a short overlap and rotation period
(SQLite and PostgreSQL through ``db_url``), and further "nodes" sharing the database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.config.settings import Settings
from idp.container import Services, build_services
from tests.fixtures.cli import run_idp
from tests.fixtures.services import FakeClock

OVERLAP = 600  # [keys] overlap in these tests
PERIOD = 3600  # [keys] rotation_period
MAX_TTL = 600 + 60  # the longest default token lifetime (access/ID token) + skew


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(make_settings: Any, db_url: str) -> Settings:
    result: Settings = make_settings(IDP_DATABASE_URL=db_url, IDP_KEYS_OVERLAP=str(OVERLAP),
                                     IDP_KEYS_ROTATION_PERIOD=str(PERIOD))
    return result


@pytest.fixture
def services(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    svc = build_services(settings, create_keys=True, clock=clock)
    svc.keys.ensure_keys()
    yield svc
    svc.close()


@pytest.fixture
def make_node(services: Services, make_settings: Any, tmp_path: Path,
              clock: FakeClock) -> Iterator[Callable[..., Services]]:
    """Another IdP node on the same database: a key directory of its own holding copies of
    the identity keys and of ``signing/wrap.key`` only — never a private signing key file."""
    built: list[Services] = []

    def _make(name: str = "node-2", *, node_clock: Any = None) -> Services:
        keys_dir = tmp_path / name / "keys"
        shutil.copytree(services.settings.keys_dir / "identity", keys_dir / "identity")
        (keys_dir / "signing").mkdir(mode=0o700)
        shutil.copy2(services.settings.keys_dir / "signing" / "wrap.key",
                     keys_dir / "signing" / "wrap.key")
        node_settings = make_settings(
            IDP_DATABASE_URL=services.settings.database_url, IDP_KEYS_DIR=str(keys_dir),
            IDP_DATA_DIR=str(tmp_path / name / "var"), IDP_KEYS_OVERLAP=str(OVERLAP),
            IDP_KEYS_ROTATION_PERIOD=str(PERIOD))
        node = build_services(node_settings, clock=node_clock or clock)
        built.append(node)
        return node

    yield _make
    for node in built:
        node.close()


@pytest.fixture
def run_cli(services: Services, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``idp ARGS`` against the same database and key directory as ``services`` (real clock)."""
    env = {"IDP_DATABASE_URL": services.settings.database_url,
           "IDP_DATA_DIR": str(services.settings.data_dir),
           "IDP_KEYS_DIR": str(services.settings.keys_dir),
           "IDP_ISSUER": services.settings.issuer,
           "IDP_KEYS_OVERLAP": str(OVERLAP), "IDP_KEYS_ROTATION_PERIOD": str(PERIOD),
           "IDP_PASSWORDS_TIME_COST": "1", "IDP_PASSWORDS_MEMORY_COST": "8192"}

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_idp(args, env=env, cwd=tmp_path)

    return _run
