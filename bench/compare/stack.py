"""Everything the comparison starts, and stopping all of it — at the end, on an error, on
Ctrl-C or SIGTERM.

Redis and PostgreSQL come from the test suite's fixtures (``tests.fixtures.services``: apt-get
installs them when missing and starts each on a free loopback port); the two servers under test
are child processes in sessions of their own, stopped by process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

import requests

from tests.fixtures.services import (
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
    start_postgres,
    start_redis,
)

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A server process in a session of its own (so a terminal's Ctrl-C reaches only us, and
    we stop it, its workers included, by process group), its output in ``log``."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path,
                 log: Path) -> None:
        self.name, self.log = name, log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 — our own argv, no shell
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_healthy(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Stack(contextlib.ExitStack):
    """An ExitStack that also turns SIGTERM (and SIGHUP) into an orderly unwind, like Ctrl-C."""

    def __enter__(self) -> Stack:
        super().__enter__()
        previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

        def interrupted(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, interrupted)

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        self.callback(restore)
        return self

    def child(self, child: Child) -> Child:
        self.callback(child.stop)
        return child

    def redis(self) -> RedisServer:
        server = _started("Redis", start_redis)
        self.callback(server.stop)
        return server

    def postgres(self) -> PostgresServer:
        server = _started("PostgreSQL", start_postgres)
        self.callback(server.stop)
        return server


def _started(name: str, start: Callable[[], T]) -> T:
    print(f"starting {name} …", flush=True)
    try:
        return start()
    except ServiceUnavailable as exc:
        raise SystemExit(f"cannot start {name}: {exc}") from None
