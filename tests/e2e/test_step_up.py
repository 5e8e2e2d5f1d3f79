"""Step-up from L1 to L2 against a real ``idp serve`` (both stacks): a citizen signs in with the
password, sets up an authenticator app in the account centre, and a portal that asks for L2
(``acr_values``) gets it after the second factor alone — the password is typed once."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import AuthResponse, UserAgent
from tests.factories import id_number
from tests.fixtures.server import IdpServer

SECRET = re.compile(r"<code>([A-Z2-7 ]{16,})</code>")


def new_citizen(server: IdpServer) -> dict[str, Any]:
    number, phone = id_number(birth="19750505"), f"137{uuid.uuid4().int % 10**8:08d}"
    csv = server.root / f"registry-{phone}.csv"
    csv.write_text(f"id_number,name\n{number},步升测试\n")
    server.cli("registry", "import", str(csv))
    password = "Step-Up-Test-9"
    server.cli("accounts", "create", "--id-number", number, "--name", "步升测试", "--phone",
               phone, "--password-stdin", stdin=password + "\n")
    return {"username": phone, "password": password}


def sms_code(server: IdpServer, phone: str) -> str:
    """The last code the development SMS gateway (``console``) logged for this phone."""
    masked = f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
    for _ in range(50):
        found = re.findall(rf"SMS to {re.escape(masked)}: \S*验证码 (\d+)", server.log)
        if found:
            return str(found[-1])
        time.sleep(0.1)
    raise AssertionError(f"no SMS to {masked} in the server log")


def enrol_totp(server: IdpServer, citizen: dict[str, Any]) -> pyotp.TOTP:
    """Set up an authenticator app in the account centre, in a browser of its own: the
    password, then — SMS codes being on — a text-message code first (adding a factor needs L2
    when the account can reach it another way), then the app's first code."""
    agent = UserAgent(server.url)
    assert agent.login(citizen["username"], citizen["password"]).status_code == 302
    page = agent._get("/account/security")
    assert 'action="/account/security/totp/enrol"' not in page.text  # not with L1
    page = agent._get("/login/verify", params={"next": "/account/security"})
    agent._post("/login/verify", {"csrf_token": agent.csrf(page), "action": "send_sms",
                                  "next": "/account/security"})
    done = agent._post("/login/verify", {"csrf_token": agent.csrf(page), "next":
                                         "/account/security",
                                         "sms_code": sms_code(server, citizen["username"])})
    assert done.status_code == 302 and done.headers["Location"].endswith("/account/security")
    page = agent._get("/account/security")
    agent._post("/account/security/totp/enrol", {"csrf_token": agent.csrf(page)})
    page = agent._get("/account/security")
    totp = pyotp.TOTP(SECRET.search(page.text).group(1).replace(" ", ""))
    done = agent._post("/account/security/totp/confirm",
                       {"csrf_token": agent.csrf(page), "code": totp.now()})
    assert done.status_code == 200, done.status_code
    return totp


def test_step_up_to_l2_without_the_password(idp_server: IdpServer, register: Any) -> None:
    citizen = new_citizen(idp_server)
    agent = UserAgent(idp_server.url)
    rp: RelyingParty = register()
    totp = enrol_totp(idp_server, citizen)  # in another browser, earlier
    first = rp.login(agent, citizen)  # L1: the password
    assert first.id_claims["acr"] == "L1" and first.id_claims["amr"] == ["pwd"]

    req = rp.auth_request(acr_values="L2")
    page = agent.visit(req.params)  # no credentials given: stops at the first form
    assert page.status_code == 200 and 'name="code"' in page.text
    assert 'name="password"' not in page.text
    next_url = parse_qs(urlsplit(page.url).query)["next"][0]
    resp = agent._post("/login/verify", {"csrf_token": agent.csrf(page), "next": next_url,
                                         "code": totp.at(time.time() + 30)})
    # (the next step's code: accepted within the ±1 step window, and newer than the one the
    # enrolment used — the current one may be that very code, a replay)
    while resp.status_code == 302 and agent.is_ours(resp.headers["Location"]):
        resp = agent._get(resp.headers["Location"])
    location = resp.headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    code = rp.expect_code(req, AuthResponse(location, params))
    tokens = rp.redeem(code, req)
    claims = rp.verify_id_token(tokens["id_token"], nonce=req.nonce,
                                access_token=tokens["access_token"])
    assert claims["acr"] == "L2" and claims["amr"] == ["pwd", "otp"]
    assert claims["sid"] == first.id_claims["sid"]  # the same session, stepped up
    assert claims["auth_time"] >= first.id_claims["auth_time"]
    assert agent.sign_ins == 1  # the password was typed once
