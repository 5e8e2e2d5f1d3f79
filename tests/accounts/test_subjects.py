"""Subject identifiers (idp.accounts.subjects, OIDC Core §8): public and pairwise, no Flask."""

from __future__ import annotations

import pytest

from idp.accounts.subjects import SubjectService
from idp.errors import ConfigError, KeyMaterialError


class Client:
    def __init__(self, client_id: str, **extra: str) -> None:
        self.client_id, self.extra = client_id, extra


SUBJECTS = SubjectService(b"k" * 32)
ACCOUNT = "8f0c2a5e-4c1e-4b7e-9d51-0c1d2e3f4a5b"


def test_public_clients_get_the_account_id() -> None:
    assert SUBJECTS.sub_for(ACCOUNT, Client("web-1")) == ACCOUNT
    assert SUBJECTS.sub_for(ACCOUNT, Client("web-1", subject_type="public")) == ACCOUNT


def test_pairwise_differs_per_sector_and_is_stable_within_one() -> None:
    tax = Client("tax-1", subject_type="pairwise", sector="tax.example.gov.cn")
    tax_app = Client("tax-2", subject_type="pairwise", sector="tax.example.gov.cn")
    health = Client("health-1", subject_type="pairwise", sector="health.example.gov.cn")
    sub = SUBJECTS.sub_for(ACCOUNT, tax)
    assert sub == SUBJECTS.sub_for(ACCOUNT, tax) == SUBJECTS.sub_for(ACCOUNT, tax_app)
    assert sub != SUBJECTS.sub_for(ACCOUNT, health)
    assert sub != ACCOUNT and ACCOUNT not in sub
    assert len(sub) == 32  # 24 bytes (192 bits), base64url without padding
    assert SUBJECTS.sub_for("another-account", tax) != sub
    # Another key (another deployment) gives unrelated values.
    assert SubjectService(b"x" * 32).sub_for(ACCOUNT, tax) != sub


def test_a_pairwise_client_without_a_sector_never_gets_the_account_id() -> None:
    with pytest.raises(ConfigError):
        SUBJECTS.sub_for(ACCOUNT, Client("odd-1", subject_type="pairwise"))


def test_the_key_must_be_long_enough() -> None:
    with pytest.raises(KeyMaterialError):
        SubjectService(b"short")
