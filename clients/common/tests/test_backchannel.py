"""Logout token validation (Back-Channel Logout 1.0 §2.6) and the endpoint's answers (§2.8),
with tokens signed here by real RSA and EC keys and a JWKS served by a stub fetch function."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from clients.common.backchannel import (
    BACKCHANNEL_EVENT,
    REPLAY,
    BackchannelLogout,
    LogoutClaims,
    LogoutTokenError,
    LogoutTokenValidator,
)
from clients.common.replay import MemoryReplayCache
from clients.common.tests.fakeidp import ISSUER, SID, SUB, FakeIdp
from clients.website.tests.idtokens import FakeJwks, SigningKey, forge
from clients.website.tokens import JwksCache, JwksUnavailableError

ME = "demo-website"
RSA = SigningKey(rsa.generate_private_key(65537, 2048), "RS256", "rsa-1")
EC = SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256", "ec-1")


@pytest.fixture
def fetcher() -> FakeJwks:
    return FakeJwks(RSA, EC)


@pytest.fixture
def validator(fetcher: FakeJwks) -> LogoutTokenValidator:
    return LogoutTokenValidator(
        JwksCache(fetcher), issuer=ISSUER, client_id=ME, replay=MemoryReplayCache()
    )


def token(key: SigningKey = RSA, **kwargs: Any) -> str:
    return FakeIdp(key=key).logout_token(kwargs.pop("aud", ME), **kwargs)


def untyped(key: SigningKey = RSA) -> str:
    """A logout token without ``typ`` (python-jose always writes one): signed here."""
    claims = json.loads(base64.urlsafe_b64decode(token(key).split(".")[1] + "=="))
    return forge(
        {"alg": "RS256", "kid": key.kid},
        claims,
        lambda data: key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )


def rejected(validator: LogoutTokenValidator, value: str, code: str) -> LogoutTokenError:
    with pytest.raises(LogoutTokenError) as info:
        validator.validate(value)
    error = info.value
    assert error.code == code, error
    assert error.en and error.zh and (not value or value not in error.en + error.zh)
    assert "ID token" not in error.en and "ID 令牌" not in error.zh, "worded for logout tokens"
    return error


# --- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
def test_a_logout_token_as_the_idp_sends_it_is_accepted(validator, key):
    logout = validator.validate(token(key, jti="a" * 32))
    assert logout == LogoutClaims(jti="a" * 32, sub=SUB, sid=SID, exp=logout.exp)
    assert logout.exp > time.time()


@pytest.mark.parametrize(
    "kwargs, sub, sid",
    [
        ({"sid": None}, SUB, None),
        ({"sub": None}, None, SID),
        ({"typ": "application/logout+jwt"}, SUB, SID),  # the same media type (RFC 7515 §4.1.9)
        ({"aud": [ME]}, SUB, SID),
        ({"exp": -30}, SUB, SID),  # 30 s ago (set at run time): within the 60 s leeway
    ],
)
def test_accepted_variants(validator, kwargs, sub, sid):
    if "exp" in kwargs:  # an offset from now, not from when the module was collected
        kwargs = {**kwargs, "exp": int(time.time()) + kwargs["exp"]}
    logout = validator.validate(token(**kwargs))
    assert (logout.sub, logout.sid) == (sub, sid)


def test_typ_is_recommended_not_required(validator):
    assert validator.validate(untyped()).sid == SID


def test_a_new_kid_is_fetched_once_more(validator, fetcher):
    validator.validate(token(RSA))
    rotated = SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256", "ec-2026")
    fetcher.keys.append(rotated)
    validator.validate(token(rotated))
    assert fetcher.calls == 2


# --- refused -------------------------------------------------------------------------------


def test_bad_signature(validator):
    forger = SigningKey(rsa.generate_private_key(65537, 2048), "RS256", RSA.kid)
    rejected(validator, token(forger), "bad_signature")


def test_unknown_key(validator, fetcher):
    stranger = SigningKey(ec.generate_private_key(ec.SECP256R1()), "ES256", "never-published")
    rejected(validator, token(stranger), "unknown_key")
    assert fetcher.calls == 1, "the first fetch was the one fetch"


@pytest.mark.parametrize(
    "kwargs, code, words",
    [
        ({"iss": "https://evil.example.test"}, "bad_iss", "issued by"),
        ({"aud": "another-client"}, "bad_aud", ME),
        ({"aud": [ME, "another-client"]}, "bad_aud", "another-client"),
        ({"exp": int(time.time()) - 61}, "expired", "expired"),
        ({"iat": None}, "missing_iat", "iat"),
        ({"exp": None}, "missing_exp", "exp"),
        ({"events": None}, "bad_events", BACKCHANNEL_EVENT),
        ({"events": {"http://schemas.openid.net/event/other": {}}}, "bad_events", "events"),
        ({"events": [BACKCHANNEL_EVENT]}, "bad_events", "events"),
        ({"events": {BACKCHANNEL_EVENT: "yes"}}, "bad_events", "JSON object"),
        ({"nonce": "n-1"}, "has_nonce", "nonce"),
        ({"sub": None, "sid": None}, "missing_sub_and_sid", "sub"),
        ({"sub": ""}, "bad_sub", "sub"),
        ({"sid": 42}, "bad_sid", "sid"),
        ({"jti": None}, "missing_jti", "jti"),
        ({"typ": "JWT"}, "bad_typ", "logout+jwt"),
        ({"typ": "at+jwt"}, "bad_typ", "logout+jwt"),
    ],
)
def test_each_bad_claim_is_refused_with_its_reason(validator, kwargs, code, words):
    error = rejected(validator, token(**kwargs), code)
    assert words in error.en


def test_an_id_token_is_not_a_logout_token(validator):
    id_token = FakeIdp(key=RSA).id_token(ME, nonce="n-1")  # typ JWT, a nonce, no events
    rejected(validator, id_token, "bad_typ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_and_hs256_with_the_public_key_are_refused(validator):
    claims = json.loads(base64.urlsafe_b64decode(token().split(".")[1] + "=="))
    header = json.dumps({"alg": "none", "typ": "logout+jwt"}).encode()
    unsigned = f"{_b64(header)}.{_b64(json.dumps(claims).encode())}."
    rejected(validator, unsigned, "bad_alg")
    secret = json.dumps(RSA.public_jwk).encode()  # the classic key-confusion attack
    hs256 = forge(
        {"alg": "HS256", "kid": RSA.kid, "typ": "logout+jwt"},
        claims,
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )
    rejected(validator, hs256, "bad_alg")


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "x" * 5000])
def test_garbage_is_malformed(validator, garbage):
    rejected(validator, garbage, "malformed")


# --- replay and the endpoint ---------------------------------------------------------------


def post(endpoint: BackchannelLogout, **builder: Any) -> Any:
    builder.setdefault("method", "POST")
    return endpoint.respond(Request(EnvironBuilder(**builder).get_environ()))


class Ended:
    """The channel's end_sessions callback: records what it was asked to end."""

    def __init__(self, answer: int = 1, fail: bool = False) -> None:
        self.calls: list[LogoutClaims] = []
        self.answer, self.fail = answer, fail

    def __call__(self, logout: LogoutClaims) -> int:
        self.calls.append(logout)
        if self.fail:
            raise OSError("disk full")
        return self.answer


def refused(resp: Any, fragment: str) -> None:
    assert resp.status_code == 400
    assert resp.headers["Cache-Control"] == "no-store" and resp.mimetype == "application/json"
    body = json.loads(resp.get_data())
    assert body["error"] == "invalid_request" and fragment in body["error_description"], body


def test_valid_token_ends_the_session_and_a_replay_is_refused(validator):
    ended = Ended()
    endpoint = BackchannelLogout(validator, ended)
    logout_token = token(jti="f" * 32)
    ok = post(endpoint, data={"logout_token": logout_token})
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    refused(post(endpoint, data={"logout_token": logout_token}), REPLAY)
    resent = token(jti="f" * 32, iat=int(time.time()) + 1)  # a retry: same jti, signed anew
    refused(post(endpoint, data={"logout_token": resent}), REPLAY)
    assert [c.jti for c in ended.calls] == ["f" * 32], "the session was ended exactly once"


def test_no_matching_session_is_still_a_success(validator):
    assert (
        post(
            BackchannelLogout(validator, Ended(answer=0)), data={"logout_token": token()}
        ).status_code
        == 200
    )


def test_a_failed_logout_is_a_400_and_the_retry_gets_through(validator):
    failing = Ended(fail=True)
    logout_token = token()
    refused(
        post(BackchannelLogout(validator, failing), data={"logout_token": logout_token}),
        "could not end",
    )
    ended = Ended()
    retry = post(BackchannelLogout(validator, ended), data={"logout_token": logout_token})
    assert retry.status_code == 200 and len(ended.calls) == 1


def test_unreachable_jwks_is_a_400_and_spends_no_jti():
    def down() -> dict[str, Any]:
        raise JwksUnavailableError("ConnectionError")

    replay = MemoryReplayCache()
    validator = LogoutTokenValidator(JwksCache(down), issuer=ISSUER, client_id=ME, replay=replay)
    logout_token = token(jti="c" * 32)
    refused(
        post(BackchannelLogout(validator, Ended()), data={"logout_token": logout_token}),
        "signing keys",
    )
    assert replay.claim("c" * 32, time.time() + 60), "the jti is still unspent"


@pytest.mark.parametrize(
    "builder, fragment",
    [
        ({"json": {"logout_token": "x"}}, "x-www-form-urlencoded"),
        ({"data": {"token": "x"}}, "exactly one logout_token"),
        (
            {
                "data": "logout_token=a&logout_token=b",
                "content_type": "application/x-www-form-urlencoded",
            },
            "exactly one",
        ),
        ({"data": {"logout_token": ""}}, "exactly one"),
        ({"data": {"logout_token": "x" * 20000}}, "too large"),
        (
            {"data": b"logout_token=\xff\xfe", "content_type": "application/x-www-form-urlencoded"},
            "cannot be read",
        ),
        ({"data": {"logout_token": "garbage"}}, "not a signed JWT"),
    ],
)
def test_bad_requests_are_400_invalid_request(validator, builder, fragment):
    ended = Ended()
    refused(post(BackchannelLogout(validator, ended), **builder), fragment)
    assert not ended.calls


def test_an_unexpected_failure_in_the_checks_is_a_400_not_a_500(validator, monkeypatch):
    def broken(value: str) -> LogoutClaims:
        raise RuntimeError("bug")

    monkeypatch.setattr(validator, "validate", broken)
    refused(post(BackchannelLogout(validator, Ended()), data={"logout_token": "x"}), "checked")


@pytest.mark.parametrize(
    "logout, sub, sid, named",
    [
        (LogoutClaims("j", SUB, SID, 0), SUB, SID, True),
        (LogoutClaims("j", SUB, SID, 0), SUB, "other-sid", False),
        (LogoutClaims("j", SUB, SID, 0), "someone-else", SID, False),
        (LogoutClaims("j", None, SID, 0), "anyone", SID, True),
        (LogoutClaims("j", SUB, None, 0), SUB, "any-sid", True),
        (LogoutClaims("j", SUB, None, 0), "someone-else", "any-sid", False),
    ],
)
def test_which_local_sessions_a_logout_names(logout, sub, sid, named):
    assert logout.names(sub, sid) is named
