"""Registering pairwise clients (idp.clients.sectors, OIDC Core §8.1): the sector from the
redirect URIs' host or a fetched ``sector_identifier_uri`` that must list every redirect URI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from idp.clients import NewClient
from idp.errors import ValidationError
from idp.store.models import Client
from tests.fixtures.server import free_port

REDIRECTS = ("https://tax.example.gov.cn/callback", "https://m.tax.example.gov.cn/callback")


class SectorServer:
    """A loopback HTTP server answering ``pages[path] = (status, body)``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.pages: dict[str, tuple[int, bytes]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — http.server's name
                status, body = server.pages.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def uri(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, value: Any, status: int = 200) -> str:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.pages[path] = (status, body)
        return self.uri(path)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def sector_server() -> Iterator[SectorServer]:
    server = SectorServer()
    yield server
    server.close()


def _count(services: Any) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Client)))


def _pairwise(services: Any, *redirects: str, sector_uri: str | None = None) -> Any:
    record, _ = services.clients.create(NewClient(
        name="Tax portal", channel="website", redirect_uris=redirects,
        subject_type="pairwise", sector_identifier_uri=sector_uri))
    return record


def test_the_sector_is_the_redirect_uris_host(services: Any) -> None:
    record = _pairwise(services, "https://tax.example.gov.cn/cb", "https://tax.example.gov.cn/b")
    assert record.extra == {"subject_type": "pairwise", "sector": "tax.example.gov.cn"}
    assert services.clients.get(record.client_id).extra["sector"] == "tax.example.gov.cn"


def test_public_is_the_default(services: Any) -> None:
    record, _ = services.clients.create(NewClient(
        name="Portal", channel="website", redirect_uris=REDIRECTS))
    assert "subject_type" not in record.extra and "sector" not in record.extra


def test_redirect_uris_on_two_hosts_need_a_sector_identifier_uri(services: Any) -> None:
    before = _count(services)
    with pytest.raises(ValidationError, match="not all on one host.*sector_identifier_uri"):
        _pairwise(services, *REDIRECTS)
    assert _count(services) == before


def test_a_sector_identifier_uri_listing_every_redirect_uri_is_accepted(
        services: Any, sector_server: SectorServer) -> None:
    uri = sector_server.serve("/sector.json", [*REDIRECTS, "https://other.example/cb"])
    record = _pairwise(services, *REDIRECTS, sector_uri=uri)
    assert record.extra == {"subject_type": "pairwise", "sector_identifier_uri": uri,
                            "sector": "127.0.0.1"}


@pytest.mark.parametrize(("path", "value", "status", "message"), [
    ("/short.json", [REDIRECTS[0]], 200,
     "does not list the redirect URI\\(s\\) https://m.tax.example.gov.cn/callback"),
    ("/html", b"<html>sectors</html>", 200, "did not answer a JSON array of URIs"),
    ("/object.json", {"redirect_uris": list(REDIRECTS)}, 200, "did not answer a JSON array"),
    ("/gone.json", None, 404, "answered HTTP 404, not 200"),
    ("/moved.json", [*REDIRECTS], 302, "answered HTTP 302"),  # redirects are not followed
])
def test_a_bad_sector_identifier_uri_is_refused_and_nothing_written(
        services: Any, sector_server: SectorServer, path: str, value: Any, status: int,
        message: str) -> None:
    uri = sector_server.uri(path) if value is None else sector_server.serve(path, value, status)
    before = _count(services)
    with pytest.raises(ValidationError, match=message) as raised:
        _pairwise(services, *REDIRECTS, sector_uri=uri)
    assert raised.value.code == "client.sector_identifier_uri"
    assert "\n" not in raised.value.message
    assert _count(services) == before


def test_an_unreachable_sector_identifier_uri_is_refused(services: Any) -> None:
    uri = f"http://127.0.0.1:{free_port()}/sector.json"  # nothing listens there
    with pytest.raises(ValidationError, match="could not be fetched"):
        _pairwise(services, *REDIRECTS, sector_uri=uri)


def test_sector_identifier_uri_rules(services: Any) -> None:
    with pytest.raises(ValidationError, match="must be an https URI"):
        _pairwise(services, *REDIRECTS, sector_uri="http://tax.example.gov.cn/sector.json")
    with pytest.raises(ValidationError, match="only used with the pairwise subject type"):
        services.clients.create(NewClient(
            name="Portal", channel="website", redirect_uris=REDIRECTS,
            sector_identifier_uri="https://tax.example.gov.cn/sector.json"))
    with pytest.raises(ValidationError, match="unknown subject type"):
        services.clients.create(NewClient(name="Portal", channel="website",
                                          redirect_uris=REDIRECTS, subject_type="secret"))


def test_a_service_client_has_no_user_subject(services: Any) -> None:
    with pytest.raises(ValidationError, match="no user subject") as raised:
        services.clients.create(NewClient(name="Batch", channel="service",
                                          subject_type="pairwise"))
    assert raised.value.code == "client.subject_type"
