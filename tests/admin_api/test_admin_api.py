"""The JSON admin API (/admin/api/v1): bearer staff tokens, RFC-style JSON errors, and each area
doing what the console and the CLI do — every change audited with the staff member as actor;
bad input a clear 4xx that writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest

from idp.sessions.ending import session_ref
from tests.factories import make_citizen


def _head(services: Any) -> int:
    return services.audit.anchor().seq


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer stk_unknown",
                                    "Bearer " + "x" * 300])
def test_no_or_bad_token_is_401_with_www_authenticate(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/admin/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_members_token_stops_working(api, services, client, staff_token):
    token = staff_token("auditor")
    assert api("GET", "/me", role="auditor").get_json()["role"] == "auditor"
    member = services.staff_tokens.authenticate(token)
    services.staff.set_status(member.id, "disabled", actor="test")
    response = client.get("/admin/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_answers_are_not_cached_and_not_html(api):
    response = api("GET", "/me")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content_type == "application/json"
    missing = api("GET", "/no-such-thing")
    assert missing.status_code == 404 and missing.content_type == "application/json"


def test_citizen_desk_over_the_api(api, services):
    citizen = make_citizen(services)
    browser = services.sso.start(citizen.sub, amr=["pwd"], acr="L1")
    app_session = services.sso.start(citizen.sub, amr=["pwd", "otp"], acr="L2")
    found = api("POST", "/citizens/search", json={"query": citizen.id_number}).get_json()
    assert found["sub"] == citizen.sub and found["sessions"] == 2
    assert citizen.id_number not in json.dumps(found) and found["id_number"].count("*") == 10
    assert citizen.phone not in json.dumps(found)
    by_phone = api("POST", "/citizens/search", json={"query": citizen.phone}, role="helpdesk")
    assert by_phone.get_json()["sub"] == citizen.sub
    sessions = api("GET", f"/citizens/{citizen.sub}/sessions").get_json()["items"]
    assert {s["ref"] for s in sessions} == {session_ref(browser.sid),
                                            session_ref(app_session.sid)}
    assert browser.sid not in json.dumps(sessions)
    ended = api("DELETE", f"/citizens/{citizen.sub}/sessions/{session_ref(browser.sid)}")
    assert ended.get_json()["ended"] == [session_ref(browser.sid)]
    assert services.sso.get(browser.sid) is None and services.sso.get(app_session.sid)
    locked = api("POST", f"/citizens/{citizen.sub}/lock", json={"reason": "fraud report"})
    assert locked.get_json()["status"] == "locked" and locked.get_json()["sessions"] == 0
    unlocked = api("POST", f"/citizens/{citizen.sub}/unlock", role="helpdesk")
    assert unlocked.get_json()["status"] == "active"
    [lock] = services.audit.events(tag="account:lock")
    assert lock.ip == "127.0.0.1"  # the staff member's address, though the desk passes none
    actors = {e.tag: e.actor for e in services.audit.events(limit=20)}
    assert actors["session:end:success"] == "staff:security-admin-1"
    assert actors["account:lock:success"] == "staff:security-admin-1"
    assert actors["account:unlock:success"] == "staff:helpdesk-1"


def test_helpdesk_resets_second_factors_after_a_counter_check(api, services):
    citizen = make_citizen(services)
    enrolment = services.mfa.enrol(citizen.sub, label="x")
    services.mfa.confirm(citizen.sub, pyotp.TOTP(enrolment.secret).now())
    api("GET", "/me", role="helpdesk")  # the token exists before the head is read
    before = _head(services)
    refused = api("POST", f"/citizens/{citizen.sub}/reset-factors", role="helpdesk",
                  json={"verification": "ok"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request"
    assert "verification" in refused.get_json()["error_description"]
    assert services.mfa.has_totp(citizen.sub) and _head(services) == before
    done = api("POST", f"/citizens/{citizen.sub}/reset-factors", role="helpdesk",
               json={"verification": "ID card checked at counter 3, ticket 1187"})
    assert done.status_code == 200 and done.get_json()["removed"]["totp"] == 1
    assert not services.mfa.has_totp(citizen.sub)
    [event] = services.audit.events(tag="account:factors:reset")
    assert event.actor == "staff:helpdesk-1" and "ticket 1187" in event.extra["verification"]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "fragment"), [
    ("POST", "/citizens/search", {"json": {"query": "110105198001010000"}}, 404,
     "no citizen"),
    ("POST", "/citizens/search", {"json": {}}, 400, "'query' is a required property"),
    ("POST", "/citizens/search", {"json": {"query": "x", "extra": 1}}, 400,
     "Additional properties"),
    ("POST", "/citizens/search", {"data": "query=x"}, 400, "send a JSON body"),
    ("POST", "/citizens/search", {"data": "{", "content_type": "application/json"}, 400,
     "not valid JSON"),
    ("POST", "/citizens/search", {"json": ["x"]}, 400, "is not of type 'object'"),
    ("GET", "/citizens/nobody", {}, 404, "no citizen"),
    ("POST", "/citizens/nobody/lock", {"json": {"reason": "x"}}, 404, "no citizen"),
    ("POST", "/citizens/nobody/lock", {"json": {"reason": 5}}, 400, "reason"),
    ("GET", "/audit/events?limit=0", {}, 400, "limit must be"),
    ("GET", "/audit/events?since=yesterday", {}, 400, "ISO 8601"),
    ("GET", "/audit/events?before_seq=-1", {}, 400, "before_seq"),
    ("PATCH", "/staff/nobody", {"json": {"role": "auditor"}}, 404, "no such staff"),
    ("PATCH", "/staff/nobody", {"json": {"role": "root"}}, 400, "role"),
    ("POST", "/staff", {"json": {"username": "ab", "display_name": "x", "role": "auditor",
                                 "password": "long-enough-password-1"}}, 400, "username"),
    ("POST", "/staff", {"json": {"username": "abc", "display_name": "x", "role": "auditor",
                                 "password": "short"}}, 400, "at least 12"),
    ("POST", "/keys/rotate", {"json": {"algs": ["HS256"]}}, 400, "HS256"),
])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(api, services, method, path, kwargs,
                                                    status, fragment):
    api("GET", "/me")  # the token exists before the head is read
    before = _head(services)
    response = api(method, path, **kwargs)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and fragment in body["error_description"]
    assert _head(services) == before
    assert len(services.staff.list()) == 1


def test_staff_management_and_enrolment_once(api, services):
    created = api("POST", "/staff", json={"username": "clerk-2", "display_name": "窗口二",
                                          "role": "helpdesk",
                                          "password": "clerk-Password-2026"})
    assert created.status_code == 201
    enrolment = created.get_json()
    assert pyotp.parse_uri(enrolment["totp_uri"]).secret == enrolment["totp_secret"]
    staff_id = enrolment["staff"]["id"]
    listed = api("GET", "/staff").get_json()["items"]
    assert "totp_secret" not in json.dumps(listed) and len(listed) == 2
    changed = api("PATCH", f"/staff/{staff_id}", json={"role": "auditor", "status": "disabled"})
    assert changed.get_json()["role"] == "auditor" and changed.get_json()["status"] == "disabled"
    assert api("POST", "/staff", json={"username": "clerk-2", "display_name": "again",
                                       "role": "helpdesk",
                                       "password": "clerk-Password-2026"}).status_code == 409
    [event] = services.audit.events(tag="staff:create", actor="staff:security-admin-1")
    assert event.subject == "staff:clerk-2"


def test_audit_search_verify_and_anchor(api, services):
    citizen = make_citizen(services)
    services.accounts.set_status(citizen.sub, "locked", actor="staff:x")
    found = api("GET", "/audit/events?tag=account:lock&limit=5", role="auditor").get_json()
    assert [e["tag"] for e in found["items"]] == ["account:lock:success"]
    by_actor = api("GET", "/audit/events?actor=staff:x", role="auditor").get_json()["items"]
    assert {e["actor"] for e in by_actor} == {"staff:x"}
    page = api("GET", "/audit/events?limit=2", role="auditor").get_json()["items"]
    older = api("GET", f"/audit/events?limit=2&before_seq={page[-1]['seq']}",
                role="auditor").get_json()["items"]
    assert older and all(e["seq"] < page[-1]["seq"] for e in older)
    verified = api("GET", "/audit/verify", role="auditor").get_json()
    assert verified["ok"] is True and verified["checked"] > 0
    anchored = api("POST", "/audit/anchors")
    assert anchored.status_code == 201
    anchors = api("GET", "/audit/anchors", role="auditor").get_json()["items"]
    assert anchors[-1]["seq"] == anchored.get_json()["seq"]
    assert api("POST", "/audit/anchors", role="auditor").status_code == 403


def test_looking_at_a_citizen_is_audited(api, services):
    citizen = make_citizen(services)
    api("POST", "/citizens/search", json={"query": citizen.phone}, role="helpdesk")
    [event] = services.audit.events(tag="account:view")
    assert event.actor == "staff:helpdesk-1" and event.subject == citizen.sub
    assert event.ip == "127.0.0.1" and citizen.phone not in str(event.extra)
