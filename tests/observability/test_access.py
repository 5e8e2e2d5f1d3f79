"""Who may read /metrics (:class:`idp.observability.access.MetricsAccess`), without Flask."""

from __future__ import annotations

import pytest

from idp.config.settings import MetricsSettings
from idp.observability.access import MetricsAccess

TOKEN = "m" * 40
ACCESS = MetricsAccess.of(MetricsSettings(allow=("127.0.0.1", "::1", "10.20.0.0/24",
                                                 "2001:db8::/32"), token=TOKEN))


@pytest.mark.parametrize(("address", "admitted"), [
    ("127.0.0.1", True), ("::1", True), ("10.20.0.254", True), ("10.20.1.1", False),
    ("::ffff:10.20.0.9", True),  # IPv4-mapped, as a dual-stack socket reports it
    ("2001:db8::42", True), ("fe80::1%eth0", False), ("203.0.113.9", False),
    ("not-an-address", False), ("", False), (None, False),
])
def test_addresses(address, admitted):
    assert ACCESS.admits(address, None) is admitted


def test_a_request_through_an_untrusted_proxy_is_not_admitted_by_address():
    assert not ACCESS.admits("127.0.0.1", None, via_untrusted_proxy=True)
    assert ACCESS.admits("203.0.113.9", f"Bearer {TOKEN}", via_untrusted_proxy=True)


@pytest.mark.parametrize(("authorization", "admitted"), [
    (f"Bearer {TOKEN}", True), (f"bearer {TOKEN}", True), (f"Bearer {TOKEN[:-1]}", False),
    (f"Basic {TOKEN}", False), (TOKEN, False), ("Bearer", False), ("", False),
])
def test_credentials_are_judged_alone(authorization, admitted):
    assert ACCESS.admits("127.0.0.1", authorization) is admitted  # even from an allowed address
    assert ACCESS.admits("203.0.113.9", authorization) is admitted


def test_without_a_token_no_credentials_admit():
    no_token = MetricsAccess.of(MetricsSettings())
    assert not no_token.admits("127.0.0.1", "Bearer ")
    assert not no_token.admits("203.0.113.9", "Bearer anything")
