"""``python -m clients.counter signin`` end to end against a scripted IdP (no network)."""

from __future__ import annotations

import io
import json

import pytest

from clients.common.tests.fakeidp import ISSUER, SID, SUB, FakeIdp, json_response, oauth_error
from clients.counter.cli import main
from clients.counter.device import DeviceAuthorization, InPersonCheck, mask_card_number
from clients.counter.display import instructions, qr_text

ME = "demo-counter"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "counter.json"
    settings = {"issuer": ISSUER, "client_id": ME, "client_secret": "s3cret"}
    path.write_text(json.dumps({**settings, "state_file": str(tmp_path / "terminal.json")}))
    return str(path)


def scripted(*token_answers, idp: FakeIdp | None = None) -> FakeIdp:
    idp = idp or FakeIdp()
    idp.on(
        "POST",
        "/device_authorization",
        json_response(
            200,
            {
                "device_code": "dc-1",
                "user_code": "BCDF-GHJK",
                "verification_uri": f"{ISSUER}/device",
                "verification_uri_complete": f"{ISSUER}/device?user_code=BCDF-GHJK",
                "expires_in": 600,
                "interval": 1,
            },
        ),
    )
    idp.on("POST", "/token", *token_answers)
    idp.on("GET", "/userinfo", json_response(200, {"sub": SUB, "name": "张三"}))
    return idp


def tokens(idp: FakeIdp, **id_claims) -> dict:
    access = idp.access_token(ME)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": idp.id_token(ME, access_token=access, **id_claims),
    }


def signin(idp: FakeIdp, *argv: str):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, transport=idp, sleep=lambda s: None)
    return status, out.getvalue(), err.getvalue()


def test_signin_prints_name_and_sid(config):
    idp = scripted(oauth_error("authorization_pending"))
    idp.routes[("POST", "/token")].append(json_response(200, tokens(idp)))
    status, out, err = signin(idp, "--config", config, "signin", "--login-hint", "13800138000")
    assert status == 0, err
    assert out.strip() == f"张三  sid {SID}"
    assert "User code: BCDF-GHJK" in err and "▀" in err
    assert "Waiting" in err and "Approved" in err
    assert "s3cret" not in out + err
    status, out, _ = signin(idp, "--config", config, "status")
    assert status == 0 and out.startswith("当前市民 / Citizen at the terminal: 张三 (sid ")


def test_signin_json_prints_the_claims(config):
    idp = FakeIdp()
    idp = scripted(json_response(200, tokens(idp)))
    status, out, err = signin(idp, "signin", "--config", config, "--json", "--scope", "openid")
    assert status == 0, err
    result = json.loads(out)
    assert (result["sub"], result["sid"], result["name"]) == (SUB, SID, "张三")
    assert result["id_token"]["aud"] == ME and result["userinfo"]["name"] == "张三"
    assert idp.sent("POST", "/device_authorization")[0].form == {"scope": "openid"}


def test_denied_exits_1_with_one_line(config):
    status, out, err = signin(scripted(oauth_error("access_denied")), "--config", config, "signin")
    assert status == 1 and out == ""
    assert err.strip().splitlines()[-1].startswith("counter: The citizen declined")


def test_an_id_token_for_another_client_is_refused(config):
    idp = FakeIdp()
    bad = tokens(idp)
    bad["id_token"] = idp.id_token("someone-else")
    status, out, err = signin(scripted(json_response(200, bad)), "--config", config, "signin")
    assert status == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith("counter: error: The ID token is not meant")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["signin"], "client_id is required"),
        (["--client-id", ME, "signin"], "client_secret is required"),
        (
            ["--client-id", ME, "--client-secret", "s", "--issuer", "http://x.test", "signin"],
            "https",
        ),
    ],
)
def test_bad_settings_exit_2_with_one_line(argv, message, monkeypatch):
    for name in ("COUNTER_CLIENT_ID", "COUNTER_CLIENT_SECRET", "COUNTER_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    status, out, err = signin(FakeIdp(), *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_idp_errors_exit_2_with_one_line(config):
    idp = FakeIdp().on(
        "POST", "/device_authorization", oauth_error("unauthorized_client", "not a counter client")
    )
    status, _, err = signin(idp, "--config", config, "signin")
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "unauthorized_client" in err and "not a counter client" in err


CARD = "11010519491231002X"  # a demo citizen's ID number (seed-demo)
MASKED_CARD = "110105********002X"


def test_in_person_check_sends_the_card_and_clerk_and_shows_acr_l4(config):
    """--id-card-number + --clerk-id: the clerk's check of the ID card (docs/channels/counter.md
    §2, §6) goes with the device authorization; the terminal shows the tokens' acr and amr, and
    the card number only masked."""
    idp = FakeIdp()
    l4 = tokens(idp, acr="L4", amr=["pwd", "otp", "ipv"])
    idp = scripted(json_response(200, l4), idp=idp)
    argv = ["--config", config, "signin", "--id-card-number", CARD.lower(), "--clerk-id", "窗口07"]
    status, out, err = signin(idp, *argv)
    assert status == 0, err
    assert idp.sent("POST", "/device_authorization")[0].form == {
        "scope": "openid profile",
        "id_card_number": CARD,  # as on the card: upper-case X
        "clerk_id": "窗口07",
    }
    assert out.strip() == f"张三  sid {SID}  acr L4  amr pwd, otp, ipv"
    assert f"In-person check: 身份证 / ID card {MASKED_CARD}, 窗口人员 / clerk 窗口07 (L4)" in err
    assert CARD not in out + err and CARD.lower() not in out + err

    idp = FakeIdp()
    idp = scripted(json_response(200, tokens(idp, acr="L4", amr=["pwd", "ipv"])), idp=idp)
    status, out, err = signin(idp, *argv, "--json")
    assert status == 0, err
    result = json.loads(out)
    assert (result["acr"], result["amr"]) == ("L4", ["pwd", "ipv"])
    assert CARD not in out + err


def test_without_the_check_the_request_has_no_card_and_acr_is_shown(config):
    idp = FakeIdp()
    idp = scripted(json_response(200, tokens(idp, acr="L2", amr=["pwd", "sms"])), idp=idp)
    status, out, err = signin(idp, "--config", config, "signin")
    assert status == 0, err
    assert idp.sent("POST", "/device_authorization")[0].form == {"scope": "openid profile"}
    assert out.strip() == f"张三  sid {SID}  acr L2  amr pwd, sms"
    assert "In-person check" not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--id-card-number", CARD],
        ["--clerk-id", "窗口07"],
        ["--id-card-number", CARD, "--clerk-id", " "],
        ["--id-card-number", "", "--clerk-id", "窗口07"],
    ],
)
def test_card_and_clerk_go_together_or_exit_2_sending_nothing(config, extra):
    idp = scripted(oauth_error("authorization_pending"))
    status, out, err = signin(idp, "--config", config, "signin", *extra)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--id-card-number and --clerk-id go together" in err
    assert CARD not in err
    assert idp.requests == [], "nothing is sent to the IdP"


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character
        "11010519491231002",  # a digit short
        "1101051949123100XX",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    ],
)
def test_a_misread_card_number_exits_2_sending_nothing(config, number):
    idp = scripted(oauth_error("authorization_pending"))
    argv = ["--config", config, "signin", "--id-card-number", number, "--clerk-id", "窗口07"]
    status, out, err = signin(idp, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "not a valid resident ID card number" in err and number not in err
    assert idp.requests == []


def test_the_idp_refusing_the_in_person_check_exits_2_with_one_line(config):
    idp = FakeIdp().on(
        "POST",
        "/device_authorization",
        oauth_error(
            "unauthorized_client",
            "this client may not attest in-person ID-card checks; staff allow it with "
            "`idp clients allow-in-person`",
        ),
    )
    argv = ["--config", config, "signin", "--id-card-number", CARD, "--clerk-id", "窗口07"]
    status, out, err = signin(idp, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "allow-in-person" in err and CARD not in err


def test_card_numbers_are_masked_six_and_four():
    assert mask_card_number(CARD) == MASKED_CARD
    assert mask_card_number(" 110101199003071234 ") == "110101********1234"
    assert mask_card_number("110105491231002") == "110105*****1002"  # 15 characters
    assert mask_card_number("1101051949") == "**********"
    check = InPersonCheck(CARD, "窗口07")
    assert CARD not in repr(check) and MASKED_CARD in repr(check)


def test_the_qr_code_is_drawn_with_blocks():
    text = qr_text("https://id.example.gov.cn/device?user_code=BCDF-GHJK")
    rows = text.rstrip("\n").split("\n")
    assert len(rows) > 10 and len({len(r) for r in rows}) == 1
    assert set("".join(rows)) <= set(" \xa0█▀▄")  # qrcode pads with no-break spaces
    plain = instructions(DeviceAuthorization("d", "BCDF-GHJK", "https://x/device", None, 90, 5))
    assert "█" not in plain and "BCDF-GHJK" in plain and "2 min" in plain
