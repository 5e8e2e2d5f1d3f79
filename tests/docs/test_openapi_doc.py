"""The admin API's OpenAPI document: the copy in docs/ is current, the IdP serves the same one
without a token, and every route of the API is described (and nothing that is not a route)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from idp.web.admin_api.openapi import PREFIX, document

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_openapi.py"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_docs_copy_is_current() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    on_disk = json.loads((ROOT / "docs" / "admin-api.openapi.json").read_text("utf-8"))
    assert on_disk == json.loads(json.dumps(document()))


@SQLITE_ONLY
def test_served_without_a_token_and_equal_to_the_docs_copy(client: Any) -> None:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    assert response.get_json() == json.loads(json.dumps(document()))


@SQLITE_ONLY
def test_every_route_is_documented_and_every_documented_path_is_a_route(app: Any) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX) and not rule.rule.endswith("/openapi.json"):
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule[len(PREFIX):])
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in document()["paths"].items() for m in item}
    assert routes == documented
