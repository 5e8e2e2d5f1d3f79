"""Which portals the front-channel logout page frames, and at which URLs
(idp.oidc.frontchannel_logout), without Flask or a server."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.clients.service import ClientRecord
from idp.oidc.frontchannel_logout import LogoutFrame, logout_frames, logout_url, origin_of
from idp.sessions.service import SsoSession

ISSUER = "https://idp.example.test"
SID = "s1d-Of_th3-session"


def record(client_id: str, frontchannel: str | None, status: str = "active") -> ClientRecord:
    return ClientRecord(
        client_id=client_id, name=client_id, channel="website", client_type="confidential",
        token_endpoint_auth_method="client_secret_basic", redirect_uris=(),
        post_logout_redirect_uris=(), backchannel_logout_uri=None, grant_types=(), scopes=(),
        id_token_signed_response_alg="RS256", skip_consent=True, status=status,
        frontchannel_logout_uri=frontchannel)


class Clients:
    def __init__(self, *records: ClientRecord) -> None:
        self.records = {r.client_id: r for r in records}
        self.asked: list[str] = []

    def get(self, client_id: str) -> ClientRecord | None:
        self.asked.append(client_id)
        return self.records.get(client_id)


def session(*client_ids: str) -> SsoSession:
    return SsoSession(sid=SID, account_id="acct-1", auth_time=1, created_at=1,
                      clients={c: "website" for c in client_ids})


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_iss_and_sid_are_the_query_of_a_uri_without_one():
    url = logout_url("https://tax.example.gov.cn/oidc/frontchannel", issuer=ISSUER, sid=SID)
    assert url == ("https://tax.example.gov.cn/oidc/frontchannel"
                   "?iss=https%3A%2F%2Fidp.example.test&sid=s1d-Of_th3-session")
    assert query(url) == [("iss", ISSUER), ("sid", SID)]


@pytest.mark.parametrize(("registered", "kept"), [
    ("https://rp.example/fc?tenant=a%20b&x=1", [("tenant", "a b"), ("x", "1")]),
    ("https://rp.example/fc?", []),
    ("https://rp.example/fc?flag", [("flag", "")]),
    ("https://rp.example/fc?iss=https%3A%2F%2Fevil&sid=theirs&keep=1", [("keep", "1")]),
])
def test_a_registered_query_is_kept_and_iss_sid_are_added_once(registered, kept):
    url = logout_url(registered, issuer=ISSUER, sid=SID)
    assert query(url) == [*kept, ("iss", ISSUER), ("sid", SID)]
    assert "?&" not in url and "&&" not in url and not url.endswith("&")
    assert urlsplit(url).path == "/fc"


@pytest.mark.parametrize(("uri", "origin"), [
    ("https://tax.example.gov.cn/fc", "https://tax.example.gov.cn"),
    ("https://Tax.Example.gov.cn:443/fc?a=1", "https://tax.example.gov.cn"),
    ("https://tax.example.gov.cn:8443/fc", "https://tax.example.gov.cn:8443"),
    ("http://127.0.0.1:8080/fc", "http://127.0.0.1:8080"),
    ("http://localhost/fc", "http://localhost"),
    ("http://[::1]:9000/fc", "http://[::1]:9000"),
])
def test_origin_is_scheme_host_and_a_non_default_port(uri, origin):
    assert origin_of(uri) == origin


@pytest.mark.parametrize("uri", [
    "javascript:alert(1)", "data:text/html,x", "ftp://rp.example/fc", "https:///fc",
    "https://user:pw@rp.example/fc", "https://rp.example:99999/fc",
    "https://rp.example;script-src%20*/fc", "https://rp.exam ple/fc", "https://rp.例子.cn/fc",
])
def test_uris_that_cannot_be_written_into_a_csp_get_no_origin(uri):
    assert origin_of(uri) is None


def test_only_participating_clients_with_a_uri_get_a_frame_in_joining_order():
    clients = Clients(
        record("tax", "https://tax.example.gov.cn/fc?tenant=1"),
        record("health", "https://health.example.gov.cn:8443/logout"),
        record("no-uri", None),
        record("elsewhere", "https://elsewhere.example.gov.cn/fc"),  # not in this session
        record("suspended", "https://suspended.example.gov.cn/fc", status="suspended"),
    )
    frames = logout_frames(session("health", "no-uri", "gone", "suspended", "tax"), clients,
                           issuer=ISSUER)
    assert frames == [
        LogoutFrame(logout_url("https://health.example.gov.cn:8443/logout", issuer=ISSUER,
                               sid=SID), "https://health.example.gov.cn:8443"),
        LogoutFrame(logout_url("https://tax.example.gov.cn/fc?tenant=1", issuer=ISSUER,
                               sid=SID), "https://tax.example.gov.cn"),
    ]
    assert "elsewhere" not in clients.asked
    for url, _origin in frames:
        assert query(url)[-2:] == [("iss", ISSUER), ("sid", SID)]


def test_each_url_once_even_when_two_clients_registered_the_same_one():
    shared = "https://portal.example.gov.cn/fc"
    frames = logout_frames(session("web", "web-2", "web-3"),
                           Clients(record("web", shared), record("web-2", shared),
                                   record("web-3", "https://portal.example.gov.cn/other")),
                           issuer=ISSUER)
    assert [f.url for f in frames] == [logout_url(shared, issuer=ISSUER, sid=SID),
                                       logout_url("https://portal.example.gov.cn/other",
                                                  issuer=ISSUER, sid=SID)]
    assert len({f.url for f in frames}) == 2


def test_no_session_or_no_portals_means_no_frames():
    clients = Clients(record("no-uri", None))
    assert logout_frames(None, clients, issuer=ISSUER) == []
    assert logout_frames(session(), clients, issuer=ISSUER) == []
    assert logout_frames(session("no-uri"), clients, issuer=ISSUER) == []
