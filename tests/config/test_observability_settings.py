"""``[metrics]`` and ``[logging]``: defaults, and the refusals — /metrics never open to every
address in production, a production token long enough, known log formats only."""

from __future__ import annotations

import pytest

from idp.config import load_settings
from idp.errors import ConfigError

PRODUCTION = {"IDP_MODE": "production", "IDP_ISSUER": "https://id.example.gov.cn",
              "IDP_SECRET_KEY": "k" * 48, "IDP_SMS_BACKEND": "none", "IDP_FACE_BACKEND": "none"}


def test_defaults_admit_loopback_only_and_log_text_in_development():
    s = load_settings({})
    assert s.metrics.enabled and s.metrics.allow == ("127.0.0.1", "::1")
    assert s.metrics.token == "" and s.metrics.dir == ""
    assert s.logging.format == "auto" and s.log_format == "text"
    assert load_settings(PRODUCTION).log_format == "json"
    assert load_settings({"IDP_LOGGING_FORMAT": "json"}).log_format == "json"
    assert load_settings({**PRODUCTION, "IDP_LOGGING_FORMAT": "text"}).log_format == "text"


def test_allow_list_from_the_environment():
    s = load_settings({"IDP_METRICS_ALLOW": "10.0.0.0/8, fd00::/8 192.0.2.7"})
    assert s.metrics.allow == ("10.0.0.0/8", "fd00::/8", "192.0.2.7")


@pytest.mark.parametrize(("env", "fragment"), [
    ({"IDP_METRICS_ALLOW": "10.0.0.0/33"}, "not an IP address or network"),
    ({"IDP_METRICS_ALLOW": "prometheus.internal"}, "not an IP address or network"),
    ({"IDP_METRICS_TOKEN": "two words"}, "without spaces"),
    ({"IDP_LOGGING_FORMAT": "xml"}, "logging.format"),
    ({**PRODUCTION, "IDP_METRICS_ALLOW": "0.0.0.0/0"}, "admits every address"),
    ({**PRODUCTION, "IDP_METRICS_ALLOW": "::/0"}, "admits every address"),
    ({**PRODUCTION, "IDP_METRICS_TOKEN": "short-token"}, "32+ random characters"),
])
def test_unsafe_or_malformed_metrics_settings_are_refused(env, fragment):
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert fragment in exc.value.message


def test_development_may_open_metrics_and_production_may_use_a_long_token():
    assert load_settings({"IDP_METRICS_ALLOW": "0.0.0.0/0"}).metrics.allow == ("0.0.0.0/0",)
    assert load_settings({**PRODUCTION, "IDP_METRICS_TOKEN": "t" * 32}).metrics.token
