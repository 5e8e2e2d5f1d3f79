"""``/metrics``: requests by route endpoint (never the raw path), sign-ins by outcome from the
audit trail, tokens by channel, and only for the scrapers ``[metrics]`` admits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import idp
from idp.container import build_services
from idp.observability.metrics import SIGNIN_TAGS
from idp.web import create_app
from tests.factories import make_citizen, make_client
from tests.web.test_account_centre import sign_in
from tests.web.test_session_limits import code_flow

# Counting does not depend on the durable store: SQLite only.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}
TOKEN = "scrape-" + "x" * 40


def scrape(client) -> str:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return answer.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels``; 0 when there is none."""
    found = [s.value for family in text_string_to_metric_families(text) for s in family.samples
             if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else 0.0


@pytest.fixture
def app_with(make_settings, db_url):
    """An app on settings with these IDP_* overrides (closed afterwards)."""
    made = []

    def _make(**env: str):
        svc = build_services(make_settings(IDP_DATABASE_URL=db_url, **env), create_keys=True)
        svc.keys.ensure_keys()
        made.append(svc)
        app = create_app(svc.settings, svc)
        app.config["TESTING"] = True
        return app

    yield _make
    for svc in made:
        svc.close()


@SQLITE
def test_requests_are_counted_by_route_endpoint_and_status(client):
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/.well-known/openid-configuration").status_code == 200
    assert client.get("/qr/ticket-Secret-4711").status_code == 200  # a path with a variable
    text = scrape(client)
    assert value(text, "idp_http_requests_total", endpoint="ops.healthz", method="GET",
                 status="200") == 3
    assert value(text, "idp_http_request_duration_seconds_count", endpoint="ops.healthz",
                 method="GET") == 3
    assert value(text, "idp_http_request_duration_seconds_bucket", endpoint="ops.healthz",
                 method="GET", le="2.0") == 3
    assert value(text, "idp_http_requests_total", endpoint="oidc.discovery", method="GET",
                 status="200") == 1
    assert value(text, "idp_http_requests_total", endpoint="qr.phone_page", method="GET",
                 status="200") == 1
    assert "ticket-Secret-4711" not in text


@SQLITE
def test_unmatched_paths_and_odd_methods_have_bounded_labels(client):
    assert client.get("/no/such/page-13912345678").status_code == 404
    assert client.get("/another/unknown").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405
    text = scrape(client)
    assert value(text, "idp_http_requests_total", endpoint="unmatched", method="GET",
                 status="404") == 2
    assert value(text, "idp_http_requests_total", endpoint="unmatched", method="other",
                 status="405") == 1
    assert "13912345678" not in text and "/no/such" not in text and "BREW" not in text


@SQLITE
def test_password_sign_ins_are_counted_by_outcome(client, services):
    citizen = make_citizen(services)
    limit = services.settings.ratelimit.account_failures
    for _ in range(limit):
        assert sign_in(client, citizen, password="wrong-wrong-9").status_code == 401
    assert sign_in(client, citizen).status_code == 429  # throttled, though the password is right
    other = make_citizen(services)
    assert sign_in(client, other).status_code == 302
    text = scrape(client)
    assert value(text, "idp_signins_total", method="password", outcome="failure") == limit
    assert value(text, "idp_signins_total", method="password", outcome="throttled") == 1
    assert value(text, "idp_signins_total", method="password", outcome="success") == 1
    assert value(text, "idp_signins_total", method="password", outcome="locked") == 0
    assert 'idp_signins_total{method="qr",outcome="success"} 0.0' in text  # present at 0


@SQLITE
def test_tokens_issued_are_counted_by_channel_and_grant(client, services):
    service = make_client(services, channel="service", redirect_uri="https://svc.example.gov.cn/cb")
    for _ in range(2):
        assert client.post("/token", data={"grant_type": "client_credentials"},
                           auth=(service.client_id, service.secret)).status_code == 200
    assert client.post("/token", data={"grant_type": "client_credentials"},
                       auth=(service.client_id, "not-the-secret")).status_code == 401
    portal = make_client(services, skip_consent=True)
    assert sign_in(client, make_citizen(services)).status_code == 302
    code_flow(client, portal)
    text = scrape(client)
    assert value(text, "idp_tokens_issued_total", channel="service",
                 grant_type="client_credentials") == 2
    assert value(text, "idp_tokens_issued_total", channel="website",
                 grant_type="authorization_code") == 1
    assert value(text, "idp_http_requests_total", endpoint="oidc.token", method="POST",
                 status="401") == 1


@SQLITE
def test_nothing_secret_or_personal_in_the_exposition(client, services):
    citizen = make_citizen(services)
    portal = make_client(services, skip_consent=True)
    assert sign_in(client, citizen).status_code == 302
    tokens = code_flow(client, portal)
    text = scrape(client)
    for secret in (citizen.id_number, citizen.phone, citizen.password, citizen.sub,
                   portal.client_id, portal.secret, tokens["access_token"],
                   tokens["refresh_token"], tokens["id_token"]):
        assert secret not in text
    labels = {k: v for family in text_string_to_metric_families(text)
              for s in family.samples for k, v in s.labels.items()}
    assert set(labels) <= {"endpoint", "method", "status", "outcome", "channel", "grant_type",
                           "le"}


@SQLITE
def test_metrics_refused_to_other_addresses_and_wrong_tokens(client):
    refused = client.get("/metrics", environ_base=OUTSIDER)
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert "idp_" not in refused.get_data(as_text=True)
    # Credentials presented are judged alone, even from an allowed address; none is configured.
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code \
        == 403
    # Came through a proxy that proxy_hops does not trust: the address is the proxy's.
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code \
        == 403
    assert client.get("/metrics").status_code == 200  # loopback, no proxy: the default allow


@SQLITE
def test_metrics_token_admits_a_scraper_from_anywhere(app_with):
    http = app_with(IDP_METRICS_TOKEN=TOKEN, IDP_METRICS_ALLOW="10.1.0.0/16").test_client()
    assert http.get("/metrics", environ_base=OUTSIDER,
                    headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        answer = http.get("/metrics", environ_base=OUTSIDER, headers={"Authorization": wrong})
        assert answer.status_code == 403 and answer.is_json
    assert http.get("/metrics").status_code == 403  # 127.0.0.1 is no longer listed
    assert http.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.200.3"}).status_code == 200


@SQLITE
def test_metrics_turned_off_answer_404_json(app_with):
    answer = app_with(IDP_METRICS_ENABLED="false").test_client().get("/metrics")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


def test_every_mapped_sign_in_tag_is_audited_somewhere():
    """A renamed audit tag must not silently stop a sign-in count."""
    source = "\n".join(p.read_text() for p in Path(idp.__file__).parent.rglob("*.py")
                       if "observability" not in p.parts)
    for tag in SIGNIN_TAGS:
        if tag.startswith("qr:login:") and tag.endswith(("confirmed", "denied")):
            assert 'f"qr:login:{ticket.status}"' in source  # the app's decision
            continue
        assert re.search(rf'"{re.escape(tag)}"', source), tag
