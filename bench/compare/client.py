"""A lean keep-alive HTTP/1.1 client for making material in bulk.

``requests`` costs about 1 ms of client CPU per call here, three times what the standard
library's ``http.client`` costs; on two cores shared with the server under test that decides
how many codes can be made before they expire. The one-off browser flows use ``requests``."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), "")

    def cookies(self) -> str:
        """The cookies this answer sets, as a Cookie header (name=value; …)."""
        pairs = [v.split(";", 1)[0].strip() for k, v in self.headers
                 if k.lower() == "set-cookie"]
        return "; ".join(p for p in pairs if "=" in p)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Connection:
    """One keep-alive connection to ``base`` (http://host:port), reopened when the server
    closed it. Not thread-safe: one per thread."""

    def __init__(self, base: str, timeout: float = 30) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host:port, got {base}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> Answer:
        body = urlencode(form) if form is not None else None
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            conn = self._conn or http.client.HTTPConnection(
                self._host, self._port, timeout=self._timeout)
            self._conn = conn
            try:
                conn.request(method, path, body=body, headers=sent)
                resp = conn.getresponse()
                answer = Answer(resp.status, resp.getheaders(), resp.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if resp.will_close:
                conn.close()
                self._conn = None
            return answer
        raise AssertionError("unreachable")

    def get(self, path: str, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> Answer:
        target = f"{path}?{urlencode(params)}" if params else path
        return self.request("GET", target, headers=headers)

    def post(self, path: str, form: dict[str, str],
             headers: dict[str, str] | None = None) -> Answer:
        return self.request("POST", path, headers=headers, form=form)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
