"""The typed, frozen settings object.

Each section mirrors a table of ``config/default.toml``, where every key has its default and a
comment; ``docs/configuration.md`` is generated from that file. Values are validated by
:func:`idp.config.loader.load_settings`, never read from the environment anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 — the known-unsafe default


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""
    pool_size: int = 10


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    prefix: str = "idp:"


@dataclass(frozen=True)
class KeysSettings:
    dir: str = "keys/dev"
    id_token_alg: str = "RS256"  # noqa: S105 — an algorithm name
    access_token_alg: str = "ES256"  # noqa: S105 — an algorithm name
    rotation_period: int = 7776000
    overlap: int = 172800

    @property
    def jwks_max_age(self) -> int:
        """Cache-Control max-age of the JWKS: a quarter of the overlap, at most a day."""
        return max(1, min(self.overlap // 4, 86400))


@dataclass(frozen=True)
class TokensSettings:
    authorization_code_ttl: int = 60
    used_code_memory: int = 86400


@dataclass(frozen=True)
class SessionSettings:
    cookie_name: str = "idp_session"
    absolute_ttl: int = 28800
    idle_ttl: int = 1800
    max_per_account: int = 10
    cookie_secure: bool = False


@dataclass(frozen=True)
class PasswordSettings:
    time_cost: int = 2
    memory_cost: int = 32768
    parallelism: int = 1
    min_length: int = 8


@dataclass(frozen=True)
class RateLimitSettings:
    account_failures: int = 5
    ip_failures: int = 30
    window: int = 900


@dataclass(frozen=True)
class RegistrySettings:
    backend: str = "table"
    http_url: str = ""
    http_timeout: float = 3.0


@dataclass(frozen=True)
class UiSettings:
    default_locale: str = "zh_CN"


@dataclass(frozen=True)
class QrSettings:
    """Scan-to-login (扫码登录) on the sign-in page; see ``[qr]``."""

    ticket_ttl: int = 120
    poll_interval: float = 1.5


@dataclass(frozen=True)
class DeviceSettings:
    """The device authorization grant (RFC 8628) of counter terminals; see ``[device]``."""

    device_code_ttl: int = 600
    interval: int = 5
    user_code_failures: int = 10
    user_code_window: int = 900


@dataclass(frozen=True)
class LogoutSettings:
    """Back-channel logout delivery (OIDC Back-Channel Logout 1.0); see ``[logout]``."""

    token_ttl: int = 120
    timeout: float = 5.0
    retry_initial: float = 2.0
    retry_max: float = 300.0
    give_up_after: int = 86400
    poll_interval: float = 2.0


@dataclass(frozen=True)
class SmsSettings:
    """SMS one-time codes, a second factor for L2 (docs/assurance.md); see ``[sms]``."""

    backend: str = "console"  # console | http | none
    http_url: str = ""
    http_method: str = "GET"  # GET | POST
    http_timeout: float = 3.0
    http_token: str = ""  # noqa: S105 — empty: no Authorization header
    code_ttl: int = 300
    code_length: int = 6
    resend_interval: int = 60
    max_sends: int = 5
    send_window: int = 3600
    max_attempts: int = 5


@dataclass(frozen=True)
class FaceSettings:
    """Face verification (liveness + portrait comparison), the factor for L3
    (docs/assurance.md, :mod:`idp.accounts.face`); see ``[face]``."""

    backend: str = "local"  # local | http | none
    http_begin_url: str = ""
    http_result_url: str = ""  # with {check_id}
    http_token: str = ""  # noqa: S105 — empty: no Authorization header
    http_timeout: float = 5.0
    check_ttl: int = 600
    max_checks: int = 5
    window: int = 3600


@dataclass(frozen=True)
class AuditSettings:
    """The audit trail's anchors (:mod:`idp.audit.anchors`); see ``[audit]``."""

    anchor_file: str = ""  # empty: <data_dir>/audit-anchors.jsonl


@dataclass(frozen=True)
class StaffSettings:
    """Security staff accounts, console sessions and admin API tokens; see ``[staff]``."""

    password_min_length: int = 12
    session_absolute_ttl: int = 28800
    session_idle_ttl: int = 900
    max_failures: int = 5
    failure_window: int = 900
    api_token_ttl: int = 2592000


@dataclass(frozen=True)
class RegistrationSettings:
    """Dynamic client registration (RFC 7591/7592); see ``[registration]``."""

    enabled: bool = True
    initial_token_ttl: int = 604800


@dataclass(frozen=True)
class AssuranceSettings:
    """The ``acr`` values (names) of the four assurance levels (docs/assurance.md); see
    ``[assurance]``. Levels are referred to as L1–L4 everywhere in the configuration
    (``min_acr``); these are the names relying parties see and send."""

    l1: str = "L1"
    l2: str = "L2"
    l3: str = "L3"
    l4: str = "L4"


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus metrics at ``/metrics`` (docs/observability.md); see ``[metrics]``."""

    enabled: bool = True
    allow: tuple[str, ...] = ("127.0.0.1", "::1")  # addresses or CIDR networks
    token: str = ""  # noqa: S105 — empty: no bearer token admits a scraper
    dir: str = ""  # empty: `idp serve` makes a private one per run


@dataclass(frozen=True)
class LoggingSettings:
    """The server's log lines (docs/observability.md); see ``[logging]``."""

    format: str = "auto"  # auto | json | text


AUTH_CODE = "authorization_code"
REFRESH = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
GRANT_TYPES = (AUTH_CODE, REFRESH, CLIENT_CREDENTIALS, DEVICE_CODE, TOKEN_EXCHANGE)
ACR_LEVELS = ("L1", "L2", "L3", "L4")


@dataclass(frozen=True)
class ChannelPolicy:
    """What one channel's clients may do (DESIGN.md §2); see ``[channels.*]`` in the defaults."""

    client_type: str = "confidential"  # confidential | public
    grant_types: tuple[str, ...] = (AUTH_CODE, REFRESH)
    pkce: str = "required"  # required | optional
    access_token_ttl: int = 600
    refresh_token_ttl: int = 2592000  # the channel's idle timeout
    session_absolute: int = 0  # the channel's absolute limit from its sign-in; 0 = none
    id_token_ttl: int = 600
    refresh_rotation: bool = True
    min_acr: str = "L1"


@dataclass(frozen=True)
class ChannelsSettings:
    website: ChannelPolicy = field(default_factory=lambda: ChannelPolicy(
        pkce="optional", refresh_token_ttl=86400, session_absolute=28800))
    app: ChannelPolicy = field(default_factory=lambda: ChannelPolicy(
        client_type="public", session_absolute=7776000))
    miniprogram: ChannelPolicy = field(default_factory=lambda: ChannelPolicy(
        grant_types=(TOKEN_EXCHANGE, AUTH_CODE, REFRESH), refresh_token_ttl=604800,
        session_absolute=2592000))
    counter: ChannelPolicy = field(default_factory=lambda: ChannelPolicy(
        grant_types=(DEVICE_CODE,), access_token_ttl=300, refresh_token_ttl=0,
        session_absolute=900, id_token_ttl=300))
    service: ChannelPolicy = field(default_factory=lambda: ChannelPolicy(
        grant_types=(CLIENT_CREDENTIALS,), pkce="optional", refresh_token_ttl=0))

    def get(self, channel: str) -> ChannelPolicy | None:
        policy = getattr(self, channel, None)
        return policy if isinstance(policy, ChannelPolicy) else None

    def names(self) -> tuple[str, ...]:
        return ("website", "app", "miniprogram", "counter", "service")


@dataclass(frozen=True)
class TokenExchangeSettings:
    allow: tuple[str, ...] = ("channel:app -> channel:miniprogram",)
    actor_clients: tuple[str, ...] = ("channel:counter",)


@dataclass(frozen=True)
class Settings:
    issuer: str = "http://localhost:5000"
    mode: str = "development"
    secret_key: str = DEV_SECRET_KEY
    data_dir: str = "var"
    proxy_hops: int = 0
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    keys: KeysSettings = field(default_factory=KeysSettings)
    tokens: TokensSettings = field(default_factory=TokensSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    ratelimit: RateLimitSettings = field(default_factory=RateLimitSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    ui: UiSettings = field(default_factory=UiSettings)
    qr: QrSettings = field(default_factory=QrSettings)
    device: DeviceSettings = field(default_factory=DeviceSettings)
    logout: LogoutSettings = field(default_factory=LogoutSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    face: FaceSettings = field(default_factory=FaceSettings)
    assurance: AssuranceSettings = field(default_factory=AssuranceSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    channels: ChannelsSettings = field(default_factory=ChannelsSettings)
    token_exchange: TokenExchangeSettings = field(default_factory=TokenExchangeSettings)

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def log_format(self) -> str:
        """``[logging] format`` with ``auto`` resolved: JSON in production, text otherwise."""
        if self.logging.format != "auto":
            return self.logging.format
        return "json" if self.production else "text"

    @property
    def database_url(self) -> str:
        """The durable store's URL; SQLite under ``data_dir`` when none is configured."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'idp.db'}"

    @property
    def audit_anchor_path(self) -> Path:
        """Where ``idp audit anchor`` appends and ``idp audit verify`` reads the anchors."""
        if self.audit.anchor_file:
            return Path(self.audit.anchor_file).resolve()
        return Path(self.data_dir).resolve() / "audit-anchors.jsonl"

    @property
    def ephemeral_sqlite_path(self) -> Path:
        return Path(self.data_dir).resolve() / "ephemeral.db"

    @property
    def keys_dir(self) -> Path:
        return Path(self.keys.dir).resolve()
