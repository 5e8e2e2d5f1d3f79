"""Staff accounts (idp.staff): creation rules, sign-in that always needs the TOTP code (replay
guard, one generic error, throttle), roles, API tokens and console sessions — on SQLite and
PostgreSQL, with a clock the tests move."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select

from idp.errors import AuthenticationFailed, Conflict, Forbidden, RateLimited, ValidationError
from idp.staff import roles
from idp.store.models import StaffAccount, StaffApiToken

PASSWORD = "staff-Password-2026!"  # noqa: S105 — test data


@pytest.fixture
def services(clocked_services):
    return clocked_services


@pytest.fixture
def admin(services):
    return services.staff.create("admin", "管理员", "security_admin", PASSWORD, actor="cli")


def code(secret, clock, offset=0):
    return pyotp.TOTP(secret).at(clock.now + offset)


def _count(services, model):
    with services.sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_create_returns_the_enrolment_once_and_seals_the_secret(services, admin):
    assert admin.staff.role == "security_admin" and not admin.staff.totp_confirmed
    assert admin.uri.startswith("otpauth://totp/") and "admin" in admin.uri
    with services.sessions() as db:
        row = db.scalar(select(StaffAccount))
        assert admin.secret.encode() not in row.totp_secret_enc
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    [event] = services.audit.events(tag="staff:create")
    assert event.actor == "cli" and event.subject == "staff:admin"


@pytest.mark.parametrize(("username", "role", "password", "rule"), [
    ("x", "security_admin", PASSWORD, "staff.username"),
    ("Admin Two", "security_admin", PASSWORD, "staff.username"),
    ("admin2", "superuser", PASSWORD, "staff.role"),
    ("admin2", "auditor", "short-pw", "password.too_short"),
    ("admin2", "auditor", "admin2-admin2-admin2", "password.personal"),
])
def test_bad_input_is_refused_and_nothing_is_written(services, username, role, password,
                                                     rule):
    with pytest.raises(ValidationError) as caught:
        services.staff.create(username, "名字", role, password, actor="cli")
    assert caught.value.code == rule
    assert _count(services, StaffAccount) == 0


def test_username_taken(services, admin):
    with pytest.raises(Conflict):
        services.staff.create("ADMIN", "Again", "auditor", PASSWORD, actor="cli")
    assert _count(services, StaffAccount) == 1


def test_sign_in_needs_password_and_code_and_confirms_the_factor(services, admin, clock):
    member = services.staff.authenticate("admin", PASSWORD, code(admin.secret, clock),
                                         ip="10.0.0.1")
    assert member.totp_confirmed and member.last_login_at is not None
    [event] = services.audit.events(tag="staff:login:success")
    assert event.actor == "staff:admin" and event.ip == "10.0.0.1"


@pytest.mark.parametrize("case", ["wrong_password", "unknown_user", "wrong_code", "no_code",
                                  "replayed_code", "disabled"])
def test_every_failure_says_the_same_and_is_audited(services, admin, clock, case):
    good = code(admin.secret, clock)
    username, password, otp = "admin", PASSWORD, good
    if case == "wrong_password":
        password = PASSWORD + "x"
    elif case == "unknown_user":
        username = "nobody"
    elif case == "wrong_code":
        otp = f"{(int(good) + 1) % 1_000_000:06d}"
    elif case == "no_code":
        otp = ""
    elif case == "replayed_code":
        services.staff.authenticate("admin", PASSWORD, good)
    elif case == "disabled":
        services.staff.set_status(admin.staff.id, "disabled", actor="staff:boss")
    with pytest.raises(AuthenticationFailed) as caught:
        services.staff.authenticate(username, password, otp)
    assert str(caught.value) == "the username, password or code is not correct"
    [event] = services.audit.events(tag="staff:login:failure")
    assert event.extra["reason"] in {"bad_credentials", "unknown_user", "wrong_code",
                                     "replayed_code", "disabled"}


def test_throttled_after_max_failures_even_with_the_right_code(services, admin, clock):
    for _ in range(services.settings.staff.max_failures):
        with pytest.raises(AuthenticationFailed):
            services.staff.authenticate("admin", "wrong-password-123", "000000")
    with pytest.raises(RateLimited):
        services.staff.authenticate("admin", PASSWORD, code(admin.secret, clock))
    assert 0 < services.ephemeral.ttl("throttle:staff:admin") <= \
        services.settings.staff.failure_window  # the window ends by the store's expiry
    assert services.audit.events(tag="staff:login:throttled")
    # Another member is not affected.
    other = services.staff.create("other", "Other", "auditor", PASSWORD, actor="cli")
    assert services.staff.authenticate("other", PASSWORD, code(other.secret, clock))


def test_reset_totp_replaces_the_secret_and_ends_console_sessions(services, admin, clock):
    member = services.staff.authenticate("admin", PASSWORD, code(admin.secret, clock))
    session_id = services.console_sessions.start(member)
    clock.advance(30)
    fresh = services.staff.reset_totp(admin.staff.id, actor="staff:boss")
    assert services.console_sessions.get(session_id) is None
    with pytest.raises(AuthenticationFailed):
        services.staff.authenticate("admin", PASSWORD, code(admin.secret, clock))
    clock.advance(30)
    assert services.staff.authenticate("admin", PASSWORD, code(fresh.secret, clock))


def test_roles_decide_in_one_place():
    assert roles.allowed("security_admin", roles.KEYS_MANAGE)
    assert not roles.allowed("auditor", roles.KEYS_READ)
    assert roles.allowed("auditor", roles.AUDIT_READ)
    assert roles.allowed("helpdesk", roles.CITIZENS_UNLOCK)
    assert not roles.allowed("helpdesk", roles.CITIZENS_LOCK)
    assert not roles.allowed("nobody", roles.AUDIT_READ)
    with pytest.raises(Forbidden, match="citizens:lock"):
        roles.require("helpdesk", roles.CITIZENS_LOCK)


def test_api_tokens_act_as_their_member_until_expired_revoked_or_disabled(services, admin,
                                                                          clock):
    token, info = services.staff_tokens.issue(admin.staff, "ci", ttl=3600, actor="cli")
    assert token.startswith("stk_")
    with services.sessions() as db:
        assert db.scalar(select(StaffApiToken.digest)) != token  # only the digest is kept
    assert services.staff_tokens.authenticate(token).username == "admin"
    assert services.staff_tokens.authenticate(token + "x") is None
    assert services.staff_tokens.authenticate("not-a-token") is None
    services.staff.set_role(admin.staff.id, "auditor", actor="cli")
    assert services.staff_tokens.authenticate(token).role == "auditor"  # the role *now*
    services.staff.set_status(admin.staff.id, "disabled", actor="cli")
    assert services.staff_tokens.authenticate(token) is None
    services.staff.set_status(admin.staff.id, "active", actor="cli")
    clock.advance(3601)
    assert services.staff_tokens.authenticate(token) is None
    second, info2 = services.staff_tokens.issue(admin.staff, "ci-2", actor="cli")
    services.staff_tokens.revoke(info2.id, staff_id=admin.staff.id, actor="cli")
    assert services.staff_tokens.authenticate(second) is None
    with pytest.raises(ValidationError):
        services.staff_tokens.issue(admin.staff, "", actor="cli")


def test_console_sessions_idle_out_and_have_an_absolute_limit(services, admin, clock):
    st = services.settings.staff
    session_id = services.console_sessions.start(admin.staff)
    assert services.console_sessions.get(session_id).staff_id == admin.staff.id
    assert services.console_sessions.get("forged") is None
    # Busy staff keep it alive, but never beyond the absolute limit.
    started = clock.now
    while clock.now - started + st.session_idle_ttl // 2 < st.session_absolute_ttl:
        clock.advance(st.session_idle_ttl // 2)
        assert services.console_sessions.get(session_id) is not None
    clock.advance(st.session_idle_ttl // 2)
    assert services.console_sessions.get(session_id) is None
    idle = services.console_sessions.start(admin.staff)
    clock.advance(st.session_idle_ttl + 1)
    assert services.console_sessions.get(idle) is None


def test_disabling_a_member_ends_its_console_sessions(services, admin):
    session_id = services.console_sessions.start(admin.staff)
    services.staff.set_status(admin.staff.id, "disabled", actor="cli")
    assert services.console_sessions.get(session_id) is None
