"""RFC 7591 at POST /register (idp.oidc.registration), through the Flask test client: a
department registers with an initial access token; its client waits for approval (refused at
the token and authorization endpoints, with a clear reason) and works once approved. Every bad
request is refused with its RFC 7591 §3.2.2 error and writes nothing: no client row, and the
initial token's use count untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from idp.container import build_services
from idp.store.models import Client, InitialAccessToken
from idp.web import create_app
from tests.clients.test_sectors import SectorServer
from tests.fixtures.server import free_port

PORTAL = {"client_name": "不动产登记门户", "redirect_uris": ["https://bdc.example.gov.cn/cb"]}
SERVICE = {"client_name": "不动产后台", "channel": "service", "grant_types": ["client_credentials"]}
AWAITING = "this client waits for approval by the security staff"


def initial_token(services: Any, uses: int = 5) -> tuple[str, int]:
    token, row = services.initial_tokens.issue(label="不动产局", ttl=3600, max_uses=uses,
                                               actor="staff:test")
    return token, row.id


def register(client: Any, token: str | None, body: Any = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return client.post("/register", headers=headers, **kwargs)
    return client.post("/register", headers=headers, json=body)


def state(services: Any, token_id: int) -> tuple[int, int]:
    """(clients, uses of the initial token): what a refused registration must not change."""
    with services.sessions() as session:
        clients = session.scalar(select(func.count()).select_from(Client))
        uses = session.scalar(select(InitialAccessToken.uses)
                              .where(InitialAccessToken.id == token_id))
    return int(clients), int(uses)


@pytest.fixture
def sectors() -> Iterator[SectorServer]:
    server = SectorServer()
    yield server
    server.close()


def test_a_registration_creates_a_pending_client(client: Any, services: Any) -> None:
    token, token_id = initial_token(services)
    answer = register(client, token, PORTAL)
    assert answer.status_code == 201, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["client_id"].startswith("website-") and len(body["client_secret"]) >= 43
    assert body["client_secret_expires_at"] == 0 and body["client_id_issued_at"] > 0
    assert body["registration_client_uri"] == f"http://localhost:5000/register/{body['client_id']}"
    assert len(body["registration_access_token"]) >= 43
    assert body["status"] == "pending" and body["channel"] == "website"
    assert body["redirect_uris"] == PORTAL["redirect_uris"]
    assert body["scope"] == "openid profile phone email offline_access"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    record = services.clients.get(body["client_id"])
    assert record.status == "pending" and record.check_secret(body["client_secret"])
    assert body["registration_access_token"] not in str(record.extra)
    assert state(services, token_id) == (1, 1)
    event = services.audit.events(tag="client:create", limit=1)[0]
    assert event.actor == f"initial-token:{token_id}" and event.extra["status"] == "pending"


def test_a_native_app_registers_as_a_public_client(client: Any, services: Any) -> None:
    token, _ = initial_token(services)
    body = register(client, token, {"client_name": "市民 App", "application_type": "native",
                                    "redirect_uris": ["cn.gov.example.app:/cb",
                                                      "http://127.0.0.1/cb"],
                                    "token_endpoint_auth_method": "none"}).get_json()
    assert body["channel"] == "app" and "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["application_type"] == "native"


def test_a_pending_client_gets_no_token_until_approved(client: Any, services: Any) -> None:
    token, _ = initial_token(services)
    body = register(client, token, SERVICE).get_json()
    cid, secret = body["client_id"], body["client_secret"]

    def token_request(password: str) -> Any:
        return client.post("/token", data={"grant_type": "client_credentials"},
                           auth=(cid, password))

    refused = token_request(secret)
    assert refused.status_code == 401
    assert refused.get_json() == {"error": "invalid_client", "error_description": AWAITING}
    wrong = token_request(secret + "x").get_json()  # no hint for a wrong secret
    assert wrong["error"] == "invalid_client" and AWAITING not in wrong["error_description"]
    form = client.post("/token", data={"grant_type": "client_credentials", "client_id": cid,
                                       "client_secret": secret})
    assert form.get_json()["error_description"] == AWAITING  # client_secret_post too
    services.clients.approve(body["client_id"], actor="staff:test")
    granted = token_request(secret)
    assert granted.status_code == 200 and granted.get_json()["access_token"]


def test_a_pending_client_cannot_start_a_sign_in(client: Any, services: Any) -> None:
    token, _ = initial_token(services)
    body = register(client, token, PORTAL).get_json()
    query = {"client_id": body["client_id"], "response_type": "code", "scope": "openid",
             "redirect_uri": PORTAL["redirect_uris"][0], "state": "s"}
    page = client.get("/authorize", query_string=query)
    assert page.status_code == 400 and AWAITING in page.get_data(as_text=True)
    assert "Location" not in page.headers  # never sent back to an unapproved client
    services.clients.approve(body["client_id"], actor="staff:test")
    assert client.get("/authorize", query_string=query).status_code == 302  # to sign-in


BAD: list[tuple[str, Any, str, str]] = [
    # (id, body, error, words of error_description)
    ("http-redirect", PORTAL | {"redirect_uris": ["http://bdc.example.gov.cn/cb"]},
     "invalid_redirect_uri", "use https"),
    ("localhost-for-web", PORTAL | {"redirect_uris": ["http://localhost:3000/cb"]},
     "invalid_redirect_uri", "plain http is allowed only for loopback"),
    ("fragment", PORTAL | {"redirect_uris": ["https://bdc.example.gov.cn/cb#top"]},
     "invalid_redirect_uri", "must not contain a fragment"),
    ("unknown-grant", PORTAL | {"grant_types": ["authorization_code", "implicit"]},
     "invalid_client_metadata", "unsupported grant type(s): implicit"),
    ("grant-response-mismatch", PORTAL | {"grant_types": ["refresh_token"],
                                          "response_types": ["code"]},
     "invalid_client_metadata", "response_types and grant_types disagree"),
    ("unsupported-response", PORTAL | {"response_types": ["code id_token"]},
     "invalid_client_metadata", "unsupported response type(s)"),
    ("string-for-list", PORTAL | {"redirect_uris": "https://bdc.example.gov.cn/cb"},
     "invalid_client_metadata", "redirect_uris must be an array of strings"),
    ("list-for-string", PORTAL | {"scope": ["openid"]}, "invalid_client_metadata",
     "scope must be a string"),
    ("array-body", [PORTAL], "invalid_client_metadata", "must be a JSON object"),
    ("id-card-scope", PORTAL | {"scope": "openid id_card"}, "invalid_client_metadata",
     "id_card scope"),
    ("skip-consent", PORTAL | {"skip_consent": True}, "invalid_client_metadata",
     "skip_consent is set by the security staff"),
    ("counter-channel", PORTAL | {"channel": "counter"}, "invalid_client_metadata",
     "registered by the security staff"),
    ("pairwise-two-hosts", PORTAL | {"subject_type": "pairwise", "redirect_uris": [
        "https://bdc.example.gov.cn/cb", "https://m.bdc.example.gov.cn/cb"]},
     "invalid_client_metadata", "not all on one host"),
    ("alg", PORTAL | {"id_token_signed_response_alg": "none"}, "invalid_client_metadata",
     "RS256 or ES256"),
    ("name-too-long", PORTAL | {"client_name": "名" * 201}, "invalid_client_metadata",
     "at most 200 characters"),
]


@pytest.mark.parametrize(("body", "error", "words"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_metadata_is_refused_and_nothing_written(client: Any, services: Any, body: Any,
                                                     error: str, words: str) -> None:
    token, token_id = initial_token(services)
    answer = register(client, token, body)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == error
    assert words in answer.get_json()["error_description"]
    assert state(services, token_id) == (0, 0)


def test_a_body_that_is_not_json_is_refused(client: Any, services: Any) -> None:
    token, token_id = initial_token(services)
    for data, content_type in ((b"client_name=x", "application/x-www-form-urlencoded"),
                               (b"{not json", "application/json"),
                               (b"\xff\xfe\x00", "application/json")):
        answer = register(client, token, data=data, content_type=content_type)
        assert answer.status_code == 400
        assert answer.get_json()["error"] == "invalid_client_metadata"
        assert "not JSON" in answer.get_json()["error_description"]
    assert state(services, token_id) == (0, 0)


def test_a_mismatched_sector_is_refused(client: Any, services: Any,
                                        sectors: SectorServer) -> None:
    token, token_id = initial_token(services)
    uris = ["https://bdc.example.gov.cn/cb", "https://m.bdc.example.gov.cn/cb"]
    pairwise = PORTAL | {"subject_type": "pairwise", "redirect_uris": uris}
    listed_one = sectors.serve("/one.json", uris[:1])
    missing = register(client, token, pairwise | {"sector_identifier_uri": listed_one})
    assert missing.status_code == 400 and missing.get_json()["error"] == \
        "invalid_client_metadata"
    assert "does not list the redirect URI(s) https://m.bdc.example.gov.cn/cb" in \
        missing.get_json()["error_description"]
    down = register(client, token, pairwise | {
        "sector_identifier_uri": f"http://127.0.0.1:{free_port()}/sector.json"})
    assert down.status_code == 400 and "could not be fetched" in \
        down.get_json()["error_description"]
    assert state(services, token_id) == (0, 0)
    listed_all = sectors.serve("/all.json", uris)
    good = register(client, token, pairwise | {"sector_identifier_uri": listed_all})
    assert good.status_code == 201 and good.get_json()["subject_type"] == "pairwise"
    assert good.get_json()["sector_identifier_uri"] == listed_all
    assert state(services, token_id) == (1, 1)


def test_token_problems_are_401_with_a_challenge(client: Any, services: Any) -> None:
    tokens = services.initial_tokens
    revoked, revoked_row = tokens.issue(label="r", ttl=3600, max_uses=1, actor="t")
    tokens.revoke(revoked_row.id, actor="t")
    used, _ = tokens.issue(label="u", ttl=3600, max_uses=1, actor="t")
    assert register(client, used, SERVICE).status_code == 201
    expired, expired_row = tokens.issue(label="e", ttl=60, max_uses=1, actor="t")
    with services.sessions.begin() as session:
        session.get(InitialAccessToken, expired_row.id).expires_at = expired_row.created_at
    cases = [(None, "Bearer <token>"), ("nope", "not known"), (revoked, "revoked"),
             (used, "used up"), (expired, "expired")]
    for token, words in cases:
        answer = register(client, token, SERVICE)
        assert answer.status_code == 401, token
        assert answer.get_json()["error"] == "invalid_token"
        assert words in answer.get_json()["error_description"]
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    basic = client.post("/register", json=SERVICE, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 1


def test_a_token_is_used_only_by_a_registration_that_succeeds(client: Any,
                                                              services: Any) -> None:
    token, token_id = initial_token(services, uses=1)
    assert register(client, token, SERVICE | {"scope": "id_card"}).status_code == 400
    assert register(client, token, {"client_name": "x", "redirect_uris": "x"}).status_code == 400
    assert state(services, token_id) == (0, 0)
    assert register(client, token, SERVICE).status_code == 201
    assert register(client, token, SERVICE).status_code == 401  # used up
    assert state(services, token_id) == (1, 1)


def test_discovery_names_the_registration_endpoint(client: Any) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["registration_endpoint"] == "http://localhost:5000/register"


def test_the_sign_up_form_is_still_the_sign_up_form(client: Any) -> None:
    assert "<form" in client.get("/register").get_data(as_text=True)
    form = client.post("/register", data={"id_number": "1", "name": "x"})  # no CSRF token
    assert form.status_code == 400 and form.mimetype == "text/html"


def test_registration_can_be_turned_off(make_settings: Any, db_url: str) -> None:
    settings = make_settings(IDP_DATABASE_URL=db_url, IDP_REGISTRATION_ENABLED="false")
    services = build_services(settings, create_keys=True)
    services.keys.ensure_keys()
    try:
        client = create_app(settings, services).test_client()
        token, token_id = initial_token(services)
        for answer in (register(client, token, SERVICE),
                       client.get("/register/service-1", headers={"Authorization": "Bearer x"}),
                       client.delete("/register/service-1")):
            assert answer.status_code == 404 and answer.get_json()["error"] == "invalid_request"
        assert state(services, token_id) == (0, 0)
        document = client.get("/.well-known/openid-configuration").get_json()
        assert "registration_endpoint" not in document
        assert client.get("/register").status_code == 200  # the sign-up form
    finally:
        services.close()
