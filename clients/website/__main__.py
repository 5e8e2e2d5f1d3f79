"""``python -m clients.website [--config FILE.json] [--host H] [--port P]`` runs the demo portal.

Settings: ``PORTAL_*`` environment variables, overridden by the JSON file, overridden by flags.
A bad setting prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clients.common.listener import QuietHandler

from .config import ConfigError, load_config
from .portal import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.website", description="示例部门门户 / Demo department portal"
    )
    parser.add_argument("--config", metavar="FILE.json", help="JSON settings (keys: issuer, …)")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 5001)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        key: value for key in ("host", "port") if (value := getattr(args, key)) is not None
    }
    try:
        config = load_config(config_file=args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    print(
        f"portal: {config.base_url} (redirect URI {config.redirect_uri}), IdP {config.issuer}",
        file=sys.stderr,
    )
    app.run(host=config.host, port=config.port, threaded=True, request_handler=QuietHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
