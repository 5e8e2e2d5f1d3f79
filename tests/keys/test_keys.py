"""Signing keys at rest: created by init, private parts sealed in the database under the
wrapping key (never a file), JWKS public only; keys made before migration 0007 still load from
their PEM file and init seals them in."""

from __future__ import annotations

import stat

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import update

from idp.container import build_services
from idp.errors import KeyMaterialError
from idp.keys import KeyService
from idp.keys.wrapping import KeyWrapper, read_wrap_key
from idp.store.models import SigningKey


def test_init_creates_rs256_and_es256_once_sealed_in_the_database(services):
    keys = services.keys.list_keys()
    assert sorted(k.alg for k in keys) == ["ES256", "RS256"]
    assert {k.state for k in keys} == {"active"}
    assert services.keys.ensure_keys() == []
    assert len(services.keys.list_keys()) == 2
    signing = services.settings.keys_dir / "signing"
    assert sorted(p.name for p in signing.iterdir()) == ["wrap.key"]  # no PEM, ever
    assert stat.S_IMODE((signing / "wrap.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(signing.stat().st_mode) == 0o700
    for key in keys:
        assert key.private_enc and b'"d"' not in key.private_enc  # sealed, not clear JSON
    events = services.audit.events(tag="key:create")
    assert sorted(e.extra["alg"] for e in events) == ["ES256", "RS256"]


def test_jwks_publishes_public_parts_only(services):
    jwks = services.keys.ring(force=True).jwks
    assert {k["alg"] for k in jwks["keys"]} == {"RS256", "ES256"}
    for jwk in jwks["keys"]:
        assert jwk["use"] == "sig" and jwk["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_sealed_key_opens_only_for_its_own_row(services):
    rs, es = sorted(services.keys.list_keys(), key=lambda k: k.alg)
    wrapper = read_wrap_key(services.settings.keys_dir)
    assert wrapper.open(rs.kid, rs.private_enc)
    with pytest.raises(KeyMaterialError, match="does not open"):
        wrapper.open(es.kid, rs.private_enc)  # associated data signing-key:<kid>
    with pytest.raises(KeyMaterialError, match="another signing-key wrapping key"):
        KeyWrapper(b"\x00" * 32).open(rs.kid, rs.private_enc)


def test_missing_wrap_key_refuses_to_start(services):
    (services.settings.keys_dir / "signing" / "wrap.key").unlink()
    fresh = KeyService(services.sessions, services.settings.keys_dir)
    with pytest.raises(KeyMaterialError) as exc:
        fresh.check_ready()
    assert "wrap.key" in exc.value.message and "idp init" in exc.value.message


def test_init_never_makes_a_second_wrap_key_for_sealed_keys(services):
    """A node that lacks wrap.key must get a copy: a new one could not open the keys."""
    (services.settings.keys_dir / "signing" / "wrap.key").unlink()
    fresh = KeyService(services.sessions, services.settings.keys_dir, create_wrap_key=True)
    with pytest.raises(KeyMaterialError, match="copy signing/wrap.key"):
        fresh.ensure_keys()
    assert not (services.settings.keys_dir / "signing" / "wrap.key").exists()


def test_a_different_wrap_key_is_a_clear_error(services):
    path = services.settings.keys_dir / "signing" / "wrap.key"
    path.write_bytes(b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")  # 32 bytes of "A"
    fresh = KeyService(services.sessions, services.settings.keys_dir)
    with pytest.raises(KeyMaterialError, match="differs from the one that sealed it"):
        fresh.check_ready()


def test_no_keys_means_not_ready(make_settings, db_url):
    svc = build_services(make_settings(IDP_DATABASE_URL=db_url), create_keys=True)
    try:
        with pytest.raises(KeyMaterialError) as exc:
            svc.keys.check_ready()
        assert "idp init" in exc.value.message
    finally:
        svc.close()


def _legacy_es256(services):
    """An active ES256 key as made before migration 0007: its private part in a PEM file."""
    key = ECKey.generate_key("P-256", private=True)
    kid = key.thumbprint()[:16]
    pem = services.settings.keys_dir / "signing" / f"{kid}.pem"
    pem.write_bytes(key.as_pem(private=True))
    pem.chmod(0o600)
    old = next(k for k in services.keys.list_keys() if k.alg == "ES256")
    with services.sessions.begin() as s:
        s.execute(update(SigningKey).where(SigningKey.kid == old.kid)
                  .values(state="removed", private_enc=None))
        s.add(SigningKey(kid=kid, alg="ES256", state="active", created_at=old.created_at,
                         activated_at=old.created_at, public_jwk={
                             **key.as_dict(private=False), "kid": kid, "alg": "ES256",
                             "use": "sig"}))
    services.keys.invalidate()
    return kid, pem


def test_legacy_key_signs_from_its_pem_until_init_seals_it(services):
    kid, pem = _legacy_es256(services)
    assert services.keys.ring(force=True).signer("ES256").kid == kid

    assert services.keys.import_legacy_keys() == [kid]
    assert services.keys.import_legacy_keys() == []  # idempotent
    [row] = [k for k in services.keys.list_keys() if k.kid == kid]
    assert row.private_enc is not None
    [event] = services.audit.events(tag="key:import")
    assert event.extra == {"kid": kid, "alg": "ES256", "source": "pem"}

    pem.unlink()  # from now on, the file is not needed: another node signs without it
    fresh = KeyService(services.sessions, services.settings.keys_dir)
    fresh.check_ready()
    assert fresh.ring().signer("ES256").kid == kid


def test_legacy_key_without_its_file_names_the_file(services):
    kid, pem = _legacy_es256(services)
    pem.unlink()
    fresh = KeyService(services.sessions, services.settings.keys_dir)
    with pytest.raises(KeyMaterialError) as exc:
        fresh.check_ready()
    assert kid in exc.value.message and "missing" in exc.value.message


def test_idp_init_imports_legacy_pems(services, run_cli):
    kid, _pem = _legacy_es256(services)
    first = run_cli("init", "--json")
    assert first.returncode == 0, first.stderr
    assert '"imported_keys": [\n    "' + kid in first.stdout
    again = run_cli("init", "--json")
    assert '"imported_keys": []' in again.stdout
