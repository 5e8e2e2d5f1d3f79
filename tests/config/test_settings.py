"""Settings: defaults, IDP_CONFIG file, IDP_* overrides, production refusals."""

from __future__ import annotations

import pytest

from idp.config import load_settings
from idp.errors import ConfigError


def test_defaults_load():
    s = load_settings({})
    assert s.issuer == "http://localhost:5000" and s.mode == "development"
    assert s.database_url.startswith("sqlite:///") and s.redis.url == ""
    assert s.keys.id_token_alg == "RS256"


def test_contract_environment_names():
    s = load_settings({"IDP_ISSUER": "https://id.example.gov.cn",
                       "IDP_DATABASE_URL": "postgresql+psycopg://u@db/idp",
                       "IDP_REDIS_URL": "redis://cache:6379/0", "IDP_KEYS_DIR": "/srv/keys",
                       "IDP_CHANNELS_APP_ACCESS_TOKEN_TTL": "300"})
    assert s.issuer == "https://id.example.gov.cn"
    assert s.database_url == "postgresql+psycopg://u@db/idp"
    assert s.redis.url == "redis://cache:6379/0" and str(s.keys_dir) == "/srv/keys"
    assert s.channels.app.access_token_ttl == 300


def test_config_file_then_environment(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('issuer = "https://a.example"\n[channels.app]\naccess_token_ttl = 120\n')
    s = load_settings({"IDP_CONFIG": str(path)})
    assert s.issuer == "https://a.example" and s.channels.app.access_token_ttl == 120
    assert s.channels.app.client_type == "public"  # the rest of the table is kept
    s = load_settings({"IDP_CONFIG": str(path), "IDP_CHANNELS_APP_ACCESS_TOKEN_TTL": "60"})
    assert s.channels.app.access_token_ttl == 60


def test_settings_are_frozen():
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.issuer = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("env", "fragment"), [
    ({"IDP_TOKENS_AUTHORIZATION_CODE_TTL": "ten"}, "must be of type int"),
    ({"IDP_TOKENS_AUTHORIZATION_CODE_TTL": "0"}, "must be positive"),
    ({"IDP_CHANNELS_APP_PKCE": "optional"}, "public clients must use PKCE"),
    ({"IDP_CHANNELS_WEBSITE_GRANT_TYPES": "password"}, "unknown grant type"),
    ({"IDP_CHANNELS_COUNTER_MIN_ACR": "L9"}, "min_acr"),
    ({"IDP_TOKEN_EXCHANGE_ALLOW": "app"}, "SOURCE -> TARGET"),
    ({"IDP_ISSUER": "localhost:5000"}, "absolute http(s) URL"),
    ({"IDP_ISSUER": "https://a.example/"}, "trailing slash"),
    ({"IDP_MODE": "prod"}, "mode must be"),
    ({"IDP_KEYS_ID_TOKEN_ALG": "HS256"}, "id_token_alg"),
    ({"IDP_CONFIG": "/nonexistent/site.toml"}, "not found"),
])
def test_bad_settings_are_refused(env, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert fragment in exc.value.message


def test_unknown_key_in_file_is_refused(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text("[tokens]\naccess_token_tll = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_settings({"IDP_CONFIG": str(path)})
    assert "tokens.access_token_tll" in exc.value.message


def test_production_refuses_http_issuer_and_default_secret():
    with pytest.raises(ConfigError) as exc:
        load_settings({"IDP_MODE": "production", "IDP_ISSUER": "http://id.example.gov.cn",
                       "IDP_SECRET_KEY": "x" * 40})
    assert "https" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        load_settings({"IDP_MODE": "production", "IDP_ISSUER": "https://id.example.gov.cn"})
    assert "secret_key" in exc.value.message
    ok = load_settings({"IDP_MODE": "production", "IDP_ISSUER": "https://id.example.gov.cn",
                        "IDP_SECRET_KEY": "k" * 48, "IDP_SMS_BACKEND": "none",
                        "IDP_FACE_BACKEND": "none"})
    assert ok.production
    # Loopback http is allowed for local production-mode trials.
    assert load_settings({"IDP_MODE": "production", "IDP_ISSUER": "http://127.0.0.1:5000",
                          "IDP_SECRET_KEY": "k" * 48, "IDP_SMS_BACKEND": "none",
                          "IDP_FACE_BACKEND": "none"}).production


def test_dataclass_defaults_match_the_defaults_file():
    """config/default.toml and the settings classes must never disagree."""
    from idp.config.settings import Settings

    assert load_settings({}) == Settings()


@pytest.mark.parametrize(("env", "message"), [
    ({"IDP_SESSION_IDLE_TTL": "0"},
     "session.idle_ttl must be positive and at most session.absolute_ttl (28800), got 0"),
    ({"IDP_SESSION_IDLE_TTL": "30000"},
     "session.idle_ttl must be positive and at most session.absolute_ttl (28800), got 30000"),
    ({"IDP_SESSION_ABSOLUTE_TTL": "-1"}, "session.absolute_ttl must be positive"),
    ({"IDP_SESSION_MAX_PER_ACCOUNT": "-1"},
     "session.max_per_account must be 0 (no limit) or positive"),
    ({"IDP_CHANNELS_APP_SESSION_ABSOLUTE": "-5"},
     "channels.app.session_absolute must be 0 (no limit) or at least "
     "channels.app.access_token_ttl (600), got -5"),
    ({"IDP_CHANNELS_WEBSITE_SESSION_ABSOLUTE": "300"},
     "channels.website.session_absolute must be 0 (no limit) or at least "
     "channels.website.access_token_ttl (600), got 300"),
    ({"IDP_CHANNELS_COUNTER_SESSION_ABSOLUTE": "15 min"},
     "setting channels.counter.session_absolute must be of type int, got '15 min'"),
])
def test_bad_session_limits_are_refused_with_one_clear_message(env, message):
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert exc.value.message == message


def test_session_limits_can_be_turned_off():
    s = load_settings({"IDP_SESSION_MAX_PER_ACCOUNT": "0", "IDP_CHANNELS_APP_SESSION_ABSOLUTE": "0",
                       "IDP_SESSION_IDLE_TTL": "28800"})
    assert s.session.max_per_account == 0 and s.channels.app.session_absolute == 0
    assert s.session.idle_ttl == s.session.absolute_ttl


PRODUCTION = {"IDP_MODE": "production", "IDP_ISSUER": "https://id.example.gov.cn",
              "IDP_SECRET_KEY": "k" * 48, "IDP_FACE_BACKEND": "none"}


@pytest.mark.parametrize(("env", "fragment"), [
    ({"IDP_SMS_BACKEND": "carrier-pigeon"}, "sms.backend must be"),
    ({"IDP_SMS_BACKEND": "http"}, "needs sms.http_url"),
    ({"IDP_SMS_BACKEND": "http", "IDP_SMS_HTTP_URL": "https://sms.example.gov.cn/send"},
     "{phone}"),
    ({"IDP_SMS_HTTP_METHOD": "PUT"}, "sms.http_method"),
    ({"IDP_SMS_CODE_LENGTH": "4"}, "sms.code_length"),
    ({"IDP_SMS_CODE_TTL": "10"}, "sms.code_ttl"),
    ({"IDP_SMS_MAX_ATTEMPTS": "0"}, "sms.max_attempts"),
    ({"IDP_SMS_RESEND_INTERVAL": "7200"}, "sms.resend_interval"),
])
def test_bad_sms_settings_are_refused(env, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert fragment in exc.value.message


def test_production_refuses_the_console_sms_gateway():
    with pytest.raises(ConfigError) as exc:
        load_settings(PRODUCTION)  # the default backend is "console"
    assert "sms.backend = 'console'" in exc.value.message
    with pytest.raises(ConfigError) as exc:
        load_settings({**PRODUCTION, "IDP_SMS_BACKEND": "http",
                       "IDP_SMS_HTTP_URL": "http://sms.example.gov.cn/s?p={phone}&t={text}"})
    assert "https:// sms.http_url" in exc.value.message
    ok = load_settings({**PRODUCTION, "IDP_SMS_BACKEND": "http", "IDP_SMS_HTTP_TOKEN": "t",
                        "IDP_SMS_HTTP_URL": "https://sms.example.gov.cn/s?p={phone}&t={text}"})
    assert ok.sms.backend == "http" and ok.sms.http_token == "t"
    assert load_settings({**PRODUCTION, "IDP_SMS_BACKEND": "none"}).sms.backend == "none"
