"""What the app accepts as a QR code or a user code before it calls the IdP."""

from __future__ import annotations

import pytest

from clients.app.approvals import normalise_user_code, ticket_from
from clients.common.errors import ClientError

ISSUER = "https://id.example.gov.cn"
TICKET = "q7sDKlq0m_fVvP-x3Rk9zB2a1cYtWn8e"


@pytest.mark.parametrize("value", [f"{ISSUER}/qr/{TICKET}", TICKET, f"  {TICKET}\n"])
def test_tickets_of_our_issuer(value):
    assert ticket_from(value, ISSUER) == TICKET


@pytest.mark.parametrize(
    "value",
    [
        f"https://evil.example.test/qr/{TICKET}",
        f"{ISSUER}.evil.example.test/qr/{TICKET}",
        f"http://id.example.gov.cn/qr/{TICKET}",
        f"{ISSUER}/qr/{TICKET}?next=https://evil.example.test",
        f"{ISSUER}/login#/qr/{TICKET}",
    ],
)
def test_qr_codes_of_other_sites_are_refused(value):
    with pytest.raises(ClientError) as info:
        ticket_from(value, ISSUER)
    assert info.value.code == "foreign_qr"


@pytest.mark.parametrize("value", ["short", f"{TICKET}/../x", "x" * 300, "tick et id 123"])
def test_garbage_is_not_a_ticket(value):
    with pytest.raises(ClientError):
        ticket_from(value, ISSUER)


@pytest.mark.parametrize(
    "value",
    ["BCDF-GHJK", "bcdfghjk", "bcdf ghjk", " BCDF-ghjk ", f"{ISSUER}/device?user_code=BCDF-GHJK"],
)
def test_user_codes_are_normalised(value):
    assert normalise_user_code(value) == "BCDF-GHJK"


@pytest.mark.parametrize("value", ["", "BCDF-GHJ", "BCDF-GHJKL", "BCDF_GHJK", "平台码码码码码码码"])
def test_bad_user_codes(value):
    with pytest.raises(ClientError) as info:
        normalise_user_code(value)
    assert info.value.code == "bad_user_code"
