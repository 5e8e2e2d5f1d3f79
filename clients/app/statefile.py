"""The app's token store: one JSON file, readable by its owner only, replaced atomically
(:mod:`clients.common.privatefile`).

After a back-channel logout (``python -m clients.app listen``) the file keeps only which
sign-in it was and when the IdP ended it (``signed_out_by_idp_at``): the tokens are gone, and
every command but ``status`` and ``login`` says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients.common.errors import ClientError
from clients.common.listener import SIGNED_OUT
from clients.common.privatefile import read_state, write_state
from clients.website.display import format_time

VERSION = 1
__all__ = ["SIGNED_OUT", "VERSION", "delete", "load", "peek", "save"]


def not_signed_in(path: Path) -> ClientError:
    return ClientError(
        "not_signed_in",
        f"Not signed in (no tokens in {path}): run `login` first.",
        f"尚未登录（{path} 中没有令牌）：请先运行 `login`。",
    )


def signed_out_by_idp(at: object) -> ClientError:
    when = format_time(at)
    return ClientError(
        "signed_out_by_idp",
        f"The IdP signed this app out at {when} (back-channel logout); the tokens were "
        "deleted. Run `login` again.",
        f"统一身份认证平台已于 {when} 将本应用退出（后台通道退出），令牌已删除。"
        "请重新运行 `login`。",
    )


def peek(path: Path) -> dict[str, Any] | None:
    """The file as it is, signed in or signed out by the IdP; ``None`` if there is none."""
    return read_state(path, VERSION)


def load(path: Path) -> dict[str, Any]:
    """The stored sign-in, or raise ``not_signed_in`` / ``signed_out_by_idp`` /
    ``state_file_*``."""
    data = peek(path)
    if data is None:
        raise not_signed_in(path)
    if SIGNED_OUT in data:
        raise signed_out_by_idp(data[SIGNED_OUT])
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically with ``data``; the new file is mode 0600 from its creation."""
    write_state(path, data, VERSION)


def delete(path: Path) -> bool:
    """Forget the stored tokens; True if there were any."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
