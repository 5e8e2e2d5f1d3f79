"""docs/configuration.md is generated from config/default.toml and kept current."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "config" / "default.toml"
PAGE = ROOT / "docs" / "configuration.md"
GENERATOR = ROOT / "scripts" / "gen_config_docs.py"


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True,
                          text=True, timeout=60, check=False)


def _env_names() -> dict[str, str]:
    """dotted key -> environment variable, straight from the TOML file."""
    names: dict[str, str] = {}

    def walk(table: dict, prefix: str) -> None:
        for name, value in table.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{name}.")
            else:
                dotted = f"{prefix}{name}"
                names[dotted] = "IDP_" + dotted.replace(".", "_").upper()

    walk(tomllib.loads(DEFAULTS.read_text(encoding="utf-8")), "")
    return names


def test_page_is_current():
    result = _generate("--check")
    assert result.returncode == 0, result.stderr


def test_check_mode_reports_a_stale_page(tmp_path):
    stale = tmp_path / "configuration.md"
    stale.write_text("# out of date\n", encoding="utf-8")
    result = _generate("--check", "--output", str(stale))
    assert result.returncode == 1
    assert "out of date" in result.stderr
    assert stale.read_text(encoding="utf-8") == "# out of date\n"  # check mode writes nothing


def test_every_key_is_documented_with_its_environment_variable():
    rows = [line for line in PAGE.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")]
    names = _env_names()
    assert len(names) > 20
    for dotted, env in names.items():
        matching = [row for row in rows if row.startswith(f"| `{dotted}` | `{env}` |")]
        assert len(matching) == 1, f"{dotted} ({env}) is not documented exactly once"


def test_environment_names_match_what_the_loader_reads():
    from idp.config import load_settings

    settings = load_settings({"IDP_CHANNELS_APP_ACCESS_TOKEN_TTL": "123",
                              "IDP_REDIS_PREFIX": "x:", "IDP_DATA_DIR": "var-docs-test"})
    assert settings.channels.app.access_token_ttl == 123
    assert settings.redis.prefix == "x:"
    assert settings.data_dir == "var-docs-test"
    assert "IDP_CONFIG" in PAGE.read_text(encoding="utf-8")
