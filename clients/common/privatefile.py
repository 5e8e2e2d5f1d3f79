"""Small JSON files that hold tokens or session state: readable by their owner only.

The app's and the counter terminal's state files and the back-channel logout replay cache all
live in such a file. Writes are atomic (a new file created with mode 0600, then renamed over
the old one), so a crash or a concurrent writer never leaves half a file, and the content is
never readable by others, not even briefly. A file that others can read is refused rather
than used: its tokens may have been copied.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from .errors import ClientError


def write_private_json(path: Path, data: Any) -> None:
    """Replace ``path`` atomically with ``data``; the new file is mode 0600 from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def invalid_file(path: Path) -> ClientError:
    return ClientError(
        "state_file_invalid",
        f"{path} is not a state file of this program; delete it and sign in again.",
        f"{path} 不是本程序的状态文件，请删除后重新登录。",
    )


def read_private_json(path: Path) -> Any:
    """The decoded content of ``path``, or ``None`` if there is no such file. Raises
    ``state_file_exposed`` when others may read it, ``state_file_invalid`` if it is not JSON."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClientError(
            "state_file_exposed",
            f"{path} is accessible to other users (mode {stat.S_IMODE(info.st_mode):o}); it "
            "holds tokens. Delete it, sign in again, and keep it at mode 600.",
            f"{path} 可被其他用户访问（权限 {stat.S_IMODE(info.st_mode):o}），其中保存有令牌。"
            "请删除后重新登录，并保持权限为 600。",
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # also a file that is not UTF-8
        raise invalid_file(path) from None


def read_state(path: Path, version: int = 1) -> dict[str, Any] | None:
    """A program's state file (a JSON object with this ``version``), or ``None`` if missing."""
    data = read_private_json(path)
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("version") != version:
        raise invalid_file(path)
    return data


def write_state(path: Path, data: dict[str, Any], version: int = 1) -> None:
    write_private_json(path, {**data, "version": version})
