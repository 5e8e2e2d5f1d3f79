"""Signing keys: created by init, private files 0600, JWKS public only."""

from __future__ import annotations

import stat

import pytest

from idp.errors import KeyMaterialError
from idp.keys import KeyService


def test_init_creates_rs256_and_es256_once(services):
    keys = services.keys.list_keys()
    assert sorted(k.alg for k in keys) == ["ES256", "RS256"]
    assert services.keys.ensure_keys() == []
    assert len(services.keys.list_keys()) == 2
    for key in keys:
        path = services.settings.keys_dir / "signing" / f"{key.kid}.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((services.settings.keys_dir / "signing").stat().st_mode) == 0o700


def test_jwks_publishes_public_parts_only(services):
    jwks = services.keys.ring(force=True).jwks
    assert {k["alg"] for k in jwks["keys"]} == {"RS256", "ES256"}
    for jwk in jwks["keys"]:
        assert jwk["use"] == "sig" and jwk["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_missing_private_key_file_is_a_clear_error(services):
    kid = services.keys.list_keys()[0].kid
    (services.settings.keys_dir / "signing" / f"{kid}.pem").unlink()
    fresh = KeyService(services.sessions, services.settings.keys_dir)
    with pytest.raises(KeyMaterialError) as exc:
        fresh.check_ready()
    assert kid in exc.value.message and "missing" in exc.value.message


def test_no_keys_means_not_ready(make_settings, db_url):
    from idp.container import build_services

    svc = build_services(make_settings(IDP_DATABASE_URL=db_url), create_keys=True)
    try:
        with pytest.raises(KeyMaterialError) as exc:
            svc.keys.check_ready()
        assert "idp init" in exc.value.message
    finally:
        svc.close()
