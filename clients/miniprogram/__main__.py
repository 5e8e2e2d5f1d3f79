"""``python -m clients.miniprogram [--config FILE.json] [--host H] [--port P]``.

Settings: ``MINIPROGRAM_*`` environment variables, overridden by the JSON file, overridden by
flags. A bad setting prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clients.common.listener import QuietHandler
from clients.common.settings import ConfigError

from .backend import create_app
from .config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.miniprogram",
        description="一网通办小程序后端 / Mini-program backend (token exchange, RFC 8693)",
    )
    parser.add_argument("--config", metavar="FILE.json", help="JSON settings (issuer, …)")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 5002)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    try:
        config = load_config(config_file=args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"miniprogram: error: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    print(
        f"miniprogram: http://{config.host}:{config.port} (client {config.client_id}), "
        f"IdP {config.issuer}",
        file=sys.stderr,
    )
    app.run(host=config.host, port=config.port, threaded=True, request_handler=QuietHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
