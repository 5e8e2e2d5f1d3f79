"""The app's token store: one JSON file, readable by its owner only.

Written atomically (a new file created with mode 0600, then renamed over the old one), so a
crash never leaves half a file and the tokens are never readable by others, not even briefly.
A file that others can read is refused rather than used: its tokens may have been copied.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from clients.common.errors import ClientError

VERSION = 1


def not_signed_in(path: Path) -> ClientError:
    return ClientError(
        "not_signed_in",
        f"Not signed in (no tokens in {path}): run `login` first.",
        f"尚未登录（{path} 中没有令牌）：请先运行 `login`。",
    )


def load(path: Path) -> dict[str, Any]:
    """The stored sign-in, or raise ``not_signed_in`` / ``state_file_*``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise not_signed_in(path) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClientError(
            "state_file_exposed",
            f"{path} is accessible to other users (mode {stat.S_IMODE(info.st_mode):o}); it "
            "holds tokens. Delete it, sign in again, and keep it at mode 600.",
            f"{path} 可被其他用户访问（权限 {stat.S_IMODE(info.st_mode):o}），其中保存有令牌。"
            "请删除后重新登录，并保持权限为 600。",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ClientError(
            "state_file_invalid",
            f"{path} is not a state file of this app; delete it and sign in again.",
            f"{path} 不是本应用的状态文件，请删除后重新登录。",
        )
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically with ``data``; the new file is mode 0600 from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**data, "version": VERSION}, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def delete(path: Path) -> bool:
    """Forget the stored tokens; True if there were any."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
