#!/usr/bin/env python3
"""Write the admin API's OpenAPI document to ``docs/admin-api.openapi.json``.

Usage::

    python scripts/gen_openapi.py            # (re)write the file
    python scripts/gen_openapi.py --check    # exit 1 if the file differs from the code's

The document is built by ``idp.web.admin_api.openapi.document`` (the IdP serves the same at
``/admin/api/v1/openapi.json``); ``tests/docs/test_openapi_doc.py`` fails while the copy in
``docs/`` is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "admin-api.openapi.json"
sys.path.insert(0, str(ROOT))

from idp.web.admin_api.openapi import document  # noqa: E402 — after the path is set


def render() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/gen_openapi.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
