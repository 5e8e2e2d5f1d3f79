"""The citizen's account centre: sessions, consents, sign-in history, password change."""

from __future__ import annotations

import pytest

from idp.sessions import session_ref
from idp.tokens import IssueContext
from tests.factories import PASSWORD, make_citizen, make_client
from tests.web.test_pages import CSRF, csrf

EN = {"Accept-Language": "en"}
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
         "Chrome/126.0.0.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 " \
         "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"


def sign_in(client, citizen, *, password=None, user_agent=CHROME):
    """Sign in through the real form; returns the response."""
    token = csrf(client.get("/login", headers=EN))
    return client.post("/login", data={"csrf_token": token, "username": citizen.phone,
                                       "password": password or citizen.password},
                       headers={**EN, "User-Agent": user_agent})


def new_session(services, client, citizen, **kwargs):
    """Sign in; returns the sid of the session this browser got."""
    before = sids(services, citizen)
    assert sign_in(client, citizen, **kwargs).status_code == 302
    [sid] = sids(services, citizen) - before
    return sid


def page(client, path):
    resp = client.get(path, headers=EN)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def sids(services, citizen):
    return {s.sid for s in services.sso.for_account(citizen.sub)}


@pytest.fixture
def second(app):
    """A second browser of the same citizen."""
    return app.test_client()


@pytest.fixture
def citizen(services):
    return make_citizen(services)


def issue_token(services, sid, client_id):
    session = services.sso.get(sid)
    record = services.clients.get(client_id)
    return services.tokens.issue(IssueContext(
        client=record, account_id=session.account_id, scope="openid profile",
        grant_type="authorization_code", include_refresh=True, sid=sid,
        auth_time=session.auth_time, amr=tuple(session.amr)))["access_token"]


@pytest.mark.parametrize("path", ["/account/sessions", "/account/consents", "/account/history",
                                  "/account/password"])
def test_pages_need_a_signed_in_citizen(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=%2Faccount%2F")


def test_home_links_every_account_page(client, citizen):
    sign_in(client, citizen)
    html = page(client, "/")
    for path in ("/account/sessions", "/account/consents", "/account/history",
                 "/account/password"):
        assert f'href="{path}"' in html


def test_sessions_are_listed_with_device_method_portals_and_this_browser(
        client, second, services, citizen):
    new_session(services, client, citizen)
    other_sid = new_session(services, second, citizen, user_agent=IPHONE)
    portal = make_client(services, name="Tax Portal")
    app_client = make_client(services, channel="app", name="Citizen App",
                             redirect_uri="cn.gov.example.app:/callback")
    other = services.sso.get(other_sid)
    other = services.sso.add_client(other, portal.client_id, "website")
    services.sso.add_client(other, app_client.client_id, "app")

    html = page(client, "/account/sessions")
    assert "<caption>Your active sessions</caption>" in html and 'scope="col"' in html
    assert "Chrome 126 · Windows" in html and "Safari 17 · iPhone" in html
    assert html.count("This browser") == 1
    assert html.index("This browser") < html.index("Safari 17 · iPhone")  # current first
    assert "Tax Portal" in html and "(Website)" in html
    assert "Citizen App" in html and "(Mobile app)" in html
    assert "Password" in html and "End all other sessions" in html
    for sid in sids(services, citizen):
        assert sid not in html and sid[:8] not in html
    zh = client.get("/account/sessions?lang=zh_CN").get_data(as_text=True)
    assert 'lang="zh-CN"' in zh


def test_ending_another_session_revokes_its_tokens(client, second, services, citizen):
    mine = new_session(services, client, citizen)
    theirs = new_session(services, second, citizen, user_agent=IPHONE)
    portal = make_client(services)
    token = issue_token(services, theirs, portal.client_id)
    kept = issue_token(services, mine, portal.client_id)
    assert services.tokens.validate_access_token(token) is not None

    html = page(client, "/account/sessions")
    resp = client.post("/account/sessions/end", headers=EN,
                       data={"csrf_token": csrf_from(html), "session": session_ref(theirs)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/sessions"
    assert sids(services, citizen) == {mine}
    assert services.tokens.validate_access_token(token) is None
    assert services.tokens.validate_access_token(kept) is not None
    assert "The session was ended." in page(client, "/account/sessions")
    assert second.get("/").status_code == 302  # that browser is signed out
    event = services.audit.events(tag="session:end:success")[0]
    assert event.subject == citizen.sub and event.extra == {"by": "citizen"}


def test_ending_this_session_signs_this_browser_out(client, services, citizen):
    sign_in(client, citizen)
    [mine] = sids(services, citizen)
    html = page(client, "/account/sessions")
    resp = client.post("/account/sessions/end",
                       data={"csrf_token": csrf_from(html), "session": session_ref(mine)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert sids(services, citizen) == set()
    assert client.get("/account/sessions").status_code == 302


def test_end_all_other_sessions(client, second, app, services, citizen):
    third = app.test_client()
    for browser in (client, second, third):
        sign_in(browser, citizen)
    assert len(sids(services, citizen)) == 3
    html = page(client, "/account/sessions")
    resp = client.post("/account/sessions/end-others", data={"csrf_token": csrf_from(html)},
                       headers=EN)
    assert resp.status_code == 302
    assert len(sids(services, citizen)) == 1
    assert "2 other sessions were ended." in page(client, "/account/sessions")
    assert client.get("/").status_code == 200
    assert second.get("/").status_code == 302 and third.get("/").status_code == 302


def test_someone_elses_session_is_refused_and_nothing_ended(client, second, services, citizen):
    other = make_citizen(services, name="另一人")
    sign_in(client, citizen)
    sign_in(second, other)
    [victim] = sids(services, other)
    html = page(client, "/account/sessions")
    for value in (session_ref(victim), victim):
        resp = client.post("/account/sessions/end", headers=EN,
                           data={"csrf_token": csrf_from(html), "session": value})
        assert resp.status_code == 404
        assert "Nothing was ended." in resp.get_data(as_text=True)
    assert sids(services, other) == {victim} and len(sids(services, citizen)) == 1
    assert second.get("/").status_code == 200
    assert services.audit.events(tag="session:end:success") == []
    assert services.audit.events(tag="session:end:refused")[0].subject == citizen.sub


def test_consents_are_listed_and_withdrawn(client, services, citizen):
    portal = make_client(services, name="Housing Portal")
    other_portal = make_client(services, name="Tax Portal")
    services.consents.grant(citizen.sub, portal.client_id, {"openid", "profile", "phone"})
    held = [services.tokens.issue(IssueContext(
        client=services.clients.get(c.client_id), account_id=citizen.sub,
        scope="openid profile offline_access", grant_type="authorization_code",
        include_refresh=True, sid="s-consent")) for c in (portal, other_portal)]
    sign_in(client, citizen)
    html = page(client, "/account/consents")
    assert "Housing Portal" in html and "<caption>" in html
    assert "Your name, gender and date of birth" in html and "Your mobile phone number" in html
    resp = client.post("/account/consents/withdraw", headers=EN,
                       data={"csrf_token": csrf_from(html), "client_id": portal.client_id})
    assert resp.status_code == 302
    assert services.consents.granted(citizen.sub, portal.client_id) is None
    # The portal's tokens for this citizen stop working; another portal's do not.
    assert services.tokens.validate_access_token(held[0]["access_token"]) is None
    assert services.tokens.rotate_refresh(held[0]["refresh_token"], portal.client_id) is None
    assert services.tokens.validate_access_token(held[1]["access_token"]) is not None
    after = page(client, "/account/consents")
    assert "Permission withdrawn." in after and "Housing Portal" not in after
    event = services.audit.events(tag="consent:revoke:success")[0]
    assert event.subject == citizen.sub and event.client_id == portal.client_id
    again = client.post("/account/consents/withdraw", headers=EN,
                        data={"csrf_token": csrf_from(html), "client_id": portal.client_id})
    assert again.status_code == 404


def test_someone_elses_consent_cannot_be_withdrawn(client, services, citizen):
    other = make_citizen(services, name="另一人")
    portal = make_client(services)
    services.consents.grant(other.sub, portal.client_id, {"openid"})
    sign_in(client, citizen)
    resp = client.post("/account/consents/withdraw", headers=EN, data={
        "csrf_token": csrf_from(page(client, "/account/password")),
        "client_id": portal.client_id})
    assert "No portal holds a permission from you." in resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert services.consents.granted(other.sub, portal.client_id) == {"openid"}


def test_history_shows_failed_and_successful_sign_ins(client, services, citizen):
    assert sign_in(client, citizen, password="wrong-wrong").status_code == 401
    sign_in(client, citizen)
    html = page(client, "/account/history")
    failed = html.index("Sign-in failed: wrong password")
    succeeded = html.index("Signed in with password")
    assert succeeded < failed  # newest first
    assert "<caption>" in html and 'scope="row"' in html
    # The test client's address is 127.0.0.1: shown only as its network.
    assert "127.0.0.*" in html and "127.0.0.1" not in html


def test_change_password_wrong_current_changes_nothing(client, services, citizen):
    sign_in(client, citizen)
    token = csrf_from(page(client, "/account/password"))
    resp = client.post("/account/password", headers=EN, data={
        "csrf_token": token, "current_password": "wrong-wrong",
        "new_password": "Brand-New-Pass-7", "new_password_confirm": "Brand-New-Pass-7"})
    assert resp.status_code == 401
    assert "The current password is not correct. Nothing was changed." in resp.get_data(
        as_text=True)
    assert services.accounts.authenticate(citizen.phone, PASSWORD).id == citizen.sub
    assert services.audit.events(tag="account:password:change") == []


@pytest.mark.parametrize(("new", "confirm", "message"), [
    ("short", "short", "at least 8 characters"),
    ("12345678", "12345678", "too easy to guess"),
    ("Brand-New-Pass-7", "Brand-New-Pass-8", "The two passwords do not match."),
])
def test_change_password_rejects_a_weak_or_mistyped_new_password(
        client, services, citizen, new, confirm, message):
    sign_in(client, citizen)
    resp = client.post("/account/password", headers=EN, data={
        "csrf_token": csrf_from(page(client, "/account/password")),
        "current_password": PASSWORD, "new_password": new, "new_password_confirm": confirm})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert services.accounts.authenticate(citizen.phone, PASSWORD).id == citizen.sub


def test_change_password_personal_data_is_refused(client, services, citizen):
    sign_in(client, citizen)
    new = f"x{citizen.phone}"
    resp = client.post("/account/password", headers=EN, data={
        "csrf_token": csrf_from(page(client, "/account/password")),
        "current_password": PASSWORD, "new_password": new, "new_password_confirm": new})
    assert resp.status_code == 400
    assert "must not contain your ID number or phone number" in resp.get_data(as_text=True)


@pytest.mark.parametrize("end_others", [False, True])
def test_change_password(client, second, services, citizen, end_others):
    new_session(services, client, citizen)
    theirs = new_session(services, second, citizen)
    data = {"csrf_token": csrf_from(page(client, "/account/password")),
            "current_password": PASSWORD, "new_password": "Brand-New-Pass-7",
            "new_password_confirm": "Brand-New-Pass-7"}
    if end_others:
        data["end_other_sessions"] = "yes"
    resp = client.post("/account/password", data=data, headers=EN)
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"
    assert "Your password was changed." in page(client, "/account/password")
    with pytest.raises(Exception, match="not correct"):
        services.accounts.authenticate(citizen.phone, PASSWORD)
    assert services.accounts.authenticate(citizen.phone, "Brand-New-Pass-7").id == citizen.sub
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert (second.get("/").status_code == 302) is end_others
    assert (theirs in sids(services, citizen)) is not end_others
    event = services.audit.events(tag="account:password:change")[0]
    assert event.subject == citizen.sub and event.extra == {"end_other_sessions": end_others}


@pytest.mark.parametrize(("path", "data"), [
    ("/account/sessions/end", {"session": "x"}),
    ("/account/sessions/end-others", {}),
    ("/account/consents/withdraw", {"client_id": "x"}),
    ("/account/password", {"current_password": PASSWORD, "new_password": "Brand-New-Pass-7",
                           "new_password_confirm": "Brand-New-Pass-7"}),
])
def test_forms_without_csrf_token_are_refused(client, second, services, citizen, path, data):
    sign_in(client, citizen)
    sign_in(second, citizen)
    resp = client.post(path, data=data)
    assert resp.status_code == 400
    assert len(sids(services, citizen)) == 2
    assert services.accounts.authenticate(citizen.phone, PASSWORD).id == citizen.sub


def csrf_from(html: str) -> str:
    return CSRF.search(html).group(1)



def test_another_citizen_signing_in_on_this_browser_ends_the_previous_session_everywhere(
        client, services, citizen, logout_listener):
    """A shared computer: the next citizen's sign-in ends the previous citizen's session —
    its tokens revoked and its portals told (back-channel), not only this browser's cookie."""
    rp = make_client(services, backchannel_logout_uri=logout_listener.uri)
    first = new_session(services, client, citizen)
    services.sso.add_client(services.sso.get(first), rp.client_id, "website")
    token = issue_token(services, first, rp.client_id)
    other = make_citizen(services, name="另一位公民")
    assert sign_in(client, other).status_code == 302
    assert sids(services, citizen) == set()
    assert services.tokens.validate_access_token(token) is None
    [queued] = services.backchannel.queue.list()
    assert (queued.sid, queued.client_id) == (first, rp.client_id)
    event = services.audit.events(tag="session:end:success")[0]
    assert event.subject == citizen.sub and event.extra["reason"] == "account_switch"


def test_withdrawing_consent_tells_the_portal_by_back_channel(client, services, citizen):
    """The portal gets a logout token for each session of the citizen it took part in (queued
    durably); the session goes on for the other portals, which hear nothing."""
    portal = make_client(services, name="Housing Portal",
                         backchannel_logout_uri="https://housing.example.gov.cn/bcl")
    other_portal = make_client(services, name="Tax Portal",
                               backchannel_logout_uri="https://tax.example.gov.cn/bcl")
    services.consents.grant(citizen.sub, portal.client_id, {"openid"})
    sign_in(client, citizen)
    [session] = services.sso.for_account(citizen.sub)
    for rp in (portal, other_portal):
        session = services.sso.add_client(session, rp.client_id, "website")
    html = page(client, "/account/consents")
    resp = client.post("/account/consents/withdraw", headers=EN,
                       data={"csrf_token": csrf_from(html), "client_id": portal.client_id})
    assert resp.status_code == 302
    [queued] = services.backchannel.queue.list()
    assert (queued.client_id, queued.sid, queued.status) == (portal.client_id, session.sid,
                                                             "pending")
    after = services.sso.get(session.sid)
    assert after is not None and set(after.clients) == {other_portal.client_id}
    assert client.get("/account/consents", headers=EN).status_code == 200  # still signed in
    event = services.audit.events(tag="consent:revoke:success")[0]
    assert event.extra["sessions"] == 1
