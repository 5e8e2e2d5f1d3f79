"""The citizen at the terminal: who signed in through ``signin``, kept in a private state file
(:mod:`clients.common.privatefile`) until the next citizen signs in — or until the IdP says the
session ended.

The terminal must forget the citizen the moment their session ends anywhere (they signed out
in the app, at a portal, or staff ended it): ``python -m clients.counter listen`` receives the
IdP's back-channel logout token and replaces the file by one that keeps only which session it
was and ``signed_out_by_idp_at`` (:class:`clients.common.listener.StateFileLogout`).
``status`` reads the file without the network.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clients.common.listener import SIGNED_OUT
from clients.common.privatefile import read_state, write_state
from clients.website.display import format_time

from .config import CounterConfig

VERSION = 1


def remember(
    config: CounterConfig,
    token: Mapping[str, Any],
    claims: Mapping[str, Any],
    userinfo: Mapping[str, Any],
) -> None:
    """Keep the citizen who just signed in (replacing the one before)."""
    expires_in = token.get("expires_in")
    record = {
        "issuer": config.issuer,
        "client_id": config.client_id,
        "claims": {"sub": claims["sub"], "sid": claims.get("sid"), "name": userinfo.get("name")},
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token"),
        "signed_in_at": int(time.time()),
        "expires_at": int(time.time() + expires_in) if isinstance(expires_in, int) else None,
    }
    write_state(state_path(config), record, VERSION)


def state_path(config: CounterConfig) -> Path:
    return Path(config.state_file).expanduser()


def status(config: CounterConfig) -> tuple[dict[str, Any], list[str]]:
    """(JSON, text lines) of who is signed in at the terminal."""
    path = state_path(config)
    record = read_state(path, VERSION)
    claims = (record or {}).get("claims") or {}
    data: dict[str, Any] = {
        "signed_in": record is not None and SIGNED_OUT not in record,
        "sub": claims.get("sub"),
        "sid": claims.get("sid"),
        "state_file": str(path),
    }
    if record is None:
        return data, ["终端当前无人登录 / No citizen is signed in at this terminal."]
    if SIGNED_OUT in record:
        when = format_time(record[SIGNED_OUT])
        data[SIGNED_OUT] = record[SIGNED_OUT]
        return data, [
            f"统一身份认证平台已于 {when} 结束该市民的会话，终端已清除其登录信息。",
            f"The IdP ended the citizen's session at {when} (back-channel logout, sid "
            f"{claims.get('sid')}): the terminal forgot them.",
        ]
    data.update(name=claims.get("name"), signed_in_at=record.get("signed_in_at"))
    return data, [
        f"当前市民 / Citizen at the terminal: {claims.get('name') or claims.get('sub')} "
        f"(sid {claims.get('sid')})",
        f"登录时间 / Signed in at: {format_time(record.get('signed_in_at'))}",
    ]
