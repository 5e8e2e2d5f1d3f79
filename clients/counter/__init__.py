"""政务服务中心自助终端 (reference) — a counter terminal signing a citizen in through the app.

A confidential client using the device authorization grant (RFC 8628): the terminal shows a QR
code and a user code, the citizen approves in the 一网通办 app, the terminal polls for tokens.
Run ``python -m clients.counter --config FILE.json signin``; see ``docs/channels/app.md``.
"""

from __future__ import annotations
