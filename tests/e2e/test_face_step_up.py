"""Step-up from L1 to L3 against a real ``idp serve`` (both stacks), with the development
stand-in as the face service (``[face] backend = "local"``, the default outside production): a
portal that requires L3 (an essential ``acr`` claim) sends the citizen through the second
factor, then face verification — the password is typed once, the session stays the same."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.test_step_up import enrol_totp, new_citizen
from tests.e2e.useragent import AuthResponse, UserAgent
from tests.fixtures.server import IdpServer

ESSENTIAL_L3 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["L3"]}}})


def follow(agent: UserAgent, resp: Any) -> Any:
    while resp.status_code == 302 and agent.is_ours(resp.headers["Location"]):
        resp = agent._get(resp.headers["Location"])
    return resp


def test_step_up_to_l3_with_face_verification(idp_server: IdpServer, register: Any) -> None:
    citizen = new_citizen(idp_server)
    agent = UserAgent(idp_server.url)
    rp: RelyingParty = register()
    assert "L3" in rp.config["acr_values_supported"]
    totp = enrol_totp(idp_server, citizen)  # in another browser, earlier
    first = rp.login(agent, citizen)  # L1: the password

    req = rp.auth_request(claims=ESSENTIAL_L3)
    page = agent.visit(req.params)  # L1 → L2 first: the second factor
    assert page.status_code == 200 and 'name="code"' in page.text
    next_url = parse_qs(urlsplit(page.url).query)["next"][0]
    resp = follow(agent, agent._post("/login/verify", {
        "csrf_token": agent.csrf(page), "next": next_url, "code": totp.at(time.time() + 30)}))
    # L2 → L3: the face page, then the face service's capture page (the stand-in).
    assert resp.status_code == 200 and urlsplit(resp.url).path == "/login/face", resp.url
    face_next = re.search(r'name="next" value="([^"]*)"', resp.text)
    assert face_next is not None
    started = agent._post("/login/face", {"csrf_token": agent.csrf(resp),
                                          "next": face_next.group(1).replace("&amp;", "&")})
    assert started.status_code == 302
    capture = agent._get(started.headers["Location"])
    assert capture.status_code == 200 and "步升测试" in capture.text
    back = agent._post(started.headers["Location"], {"csrf_token": agent.csrf(capture),
                                                     "outcome": "match"})
    location = follow(agent, back).headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    code = rp.expect_code(req, AuthResponse(location, params))
    tokens = rp.redeem(code, req)
    claims = rp.verify_id_token(tokens["id_token"], nonce=req.nonce,
                                access_token=tokens["access_token"])
    assert claims["acr"] == "L3" and claims["amr"] == ["pwd", "otp", "face"]
    assert claims["sid"] == first.id_claims["sid"]  # the same session, stepped up twice
    assert agent.sign_ins == 1  # the password was typed once

