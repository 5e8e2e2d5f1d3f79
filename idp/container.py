"""Wiring: build every domain service once from the settings, and hand them down.

The web app, the CLI and the tests all get their services from :func:`build_services`; nothing
else constructs engines, stores or key material.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.accounts.consents import ConsentService
from idp.accounts.delegations import DelegationService
from idp.accounts.face import FaceVerifier, HttpFaceVerifier, LocalFaceVerifier
from idp.accounts.face_checks import FaceCheckService
from idp.accounts.mfa import MfaService, MfaThrottle
from idp.accounts.passkeys import PasskeyService
from idp.accounts.passwords import PasswordHasher
from idp.accounts.registry import HttpRegistry, PopulationRegistry, TableRegistry
from idp.accounts.services import AccountService
from idp.accounts.sms import ConsoleSmsGateway, HttpSmsGateway, SmsGateway
from idp.accounts.sms_codes import SmsCodeService
from idp.accounts.subjects import SubjectService
from idp.accounts.throttle import LoginThrottle
from idp.audit import AuditTrail
from idp.clients import ChannelPolicies, ClientService
from idp.clients.initial_tokens import InitialAccessTokens
from idp.clock import Clock, system_clock
from idp.config import Settings
from idp.identity import IdNumberProtector, load_identity_keys
from idp.identity.keyring import load_pairwise_key
from idp.keys import KeyService
from idp.oidc.acr import AcrNames
from idp.oidc.device_flow import DeviceFlow
from idp.oidc.user_code_throttle import UserCodeThrottle
from idp.sessions import SessionEnding, SessionService
from idp.sessions.backchannel import BackchannelLogout
from idp.sessions.limits import SessionLimits
from idp.sessions.logout_queue import LogoutQueue
from idp.sessions.logout_tokens import LogoutTokenSigner
from idp.sessions.qr import QrLoginService
from idp.staff import CitizenDesk, ConsoleSessions, StaffService, StaffTokens
from idp.store.db import create_db_engine, create_session_factory
from idp.store.ephemeral import EphemeralStore, create_ephemeral_store
from idp.tokens import CodeStore, TokenService


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    ephemeral: EphemeralStore
    audit: AuditTrail
    keys: KeyService
    protector: IdNumberProtector
    registry: PopulationRegistry
    table_registry: TableRegistry
    accounts: AccountService
    clients: ClientService
    initial_tokens: InitialAccessTokens  # RFC 7591 initial access tokens (dynamic registration)
    policies: ChannelPolicies
    consents: ConsentService
    sso: SessionService
    session_ending: SessionEnding
    session_limits: SessionLimits
    backchannel: BackchannelLogout
    codes: CodeStore
    tokens: TokenService
    device: DeviceFlow
    qr: QrLoginService
    delegations: DelegationService
    mfa: MfaService
    subjects: SubjectService
    sms: SmsCodeService
    face: FaceCheckService
    passkeys: PasskeyService
    staff: StaffService
    staff_tokens: StaffTokens
    console_sessions: ConsoleSessions
    desk: CitizenDesk

    def close(self) -> None:
        self.backchannel.stop()
        self.ephemeral.close()
        self.engine.dispose()


def build_sms_gateway(settings: Settings) -> SmsGateway | None:
    """The ``[sms] backend``: None for "none" (SMS codes turned off)."""
    sms = settings.sms
    if sms.backend == "http":
        return HttpSmsGateway(sms.http_url, method=sms.http_method, timeout=sms.http_timeout,
                              token=sms.http_token)
    if sms.backend == "console":
        return ConsoleSmsGateway()
    return None


def build_face_verifier(settings: Settings, store: EphemeralStore) -> FaceVerifier | None:
    """The ``[face] backend``: None for "none" (face verification, and so L3, turned off)."""
    face = settings.face
    if face.backend == "http":
        return HttpFaceVerifier(face.http_begin_url, face.http_result_url,
                                timeout=face.http_timeout, token=face.http_token)
    if face.backend == "local":
        return LocalFaceVerifier(store, issuer=settings.issuer, ttl=face.check_ttl)
    return None


def max_signed_ttl(settings: Settings) -> int:
    """The longest life of anything a signing key signs — access and ID tokens of every
    channel, logout tokens — plus a minute of clock skew: how long a retired key stays in the
    JWKS."""
    channels = [settings.channels.get(name) for name in settings.channels.names()]
    ttls = [ttl for policy in channels if policy is not None
            for ttl in (policy.access_token_ttl, policy.id_token_ttl)]
    return max([*ttls, settings.logout.token_ttl]) + 60


def build_services(settings: Settings, *, create_keys: bool = False,
                   clock: Clock = system_clock) -> Services:
    """Build the services. ``create_keys`` makes missing identity keys (``idp init`` only)."""
    engine = create_db_engine(settings.database_url, pool_size=settings.database.pool_size)
    sessions = create_session_factory(engine)
    ephemeral = create_ephemeral_store(settings.redis.url, settings.ephemeral_sqlite_path,
                                       prefix=settings.redis.prefix)
    audit = AuditTrail(sessions, clock=clock)
    keys = KeyService(sessions, settings.keys_dir, audit=audit, clock=clock,
                      overlap=settings.keys.overlap,
                      rotation_period=settings.keys.rotation_period,
                      max_token_ttl=max_signed_ttl(settings), create_wrap_key=create_keys)
    protector = load_identity_keys(settings.keys_dir, create=create_keys)
    subjects = SubjectService(load_pairwise_key(settings.keys_dir, create=create_keys))
    table_registry = TableRegistry(sessions, protector, clock=clock)
    registry: PopulationRegistry = table_registry
    if settings.registry.backend == "http":
        registry = HttpRegistry(settings.registry.http_url, settings.registry.http_timeout)
    pw = settings.passwords
    hasher = PasswordHasher(time_cost=pw.time_cost, memory_cost=pw.memory_cost,
                            parallelism=pw.parallelism, min_length=pw.min_length)
    rl = settings.ratelimit
    throttle = LoginThrottle(ephemeral, account_limit=rl.account_failures,
                             ip_limit=rl.ip_failures, window=rl.window)
    policies = ChannelPolicies(settings.channels, settings.token_exchange)
    clients = ClientService(sessions, audit=audit, policies=policies, clock=clock,
                            production=settings.production,
                            default_id_token_alg=settings.keys.id_token_alg)
    tok = settings.tokens
    sso = SessionService(ephemeral, absolute_ttl=settings.session.absolute_ttl,
                         idle_ttl=settings.session.idle_ttl, channels=settings.channels,
                         join_slack=max(tok.authorization_code_ttl,
                                        settings.device.device_code_ttl), clock=clock)
    tokens = TokenService(sessions, keys, audit, issuer=settings.issuer,
                          access_alg=settings.keys.access_token_alg, policies=policies,
                          subjects=subjects, acr_name=AcrNames.of(settings.assurance).external,
                          clock=clock)
    keys.attach_token_revoker(tokens.revoke_by_kid)  # an emergency key revoke revokes its tokens
    backchannel = BackchannelLogout(
        LogoutQueue(sessions, clock=clock),
        LogoutTokenSigner(keys, issuer=settings.issuer, ttl=settings.logout.token_ttl,
                          clock=clock),
        clients, audit, settings.logout, default_alg=settings.keys.id_token_alg,
        subjects=subjects, clock=clock)
    session_ending = SessionEnding(sso, tokens, audit, on_end=backchannel.session_ended,
                                   on_leave=backchannel.client_left)
    accounts = AccountService(sessions, protector=protector, registry=registry, hasher=hasher,
                              throttle=throttle, audit=audit, clock=clock,
                              session_ending=session_ending)
    dev = settings.device
    device = DeviceFlow(ephemeral, sso=sso, audit=audit, ttl=dev.device_code_ttl,
                        interval=dev.interval, clock=clock,
                        throttle=UserCodeThrottle(ephemeral, limit=dev.user_code_failures,
                                                  window=dev.user_code_window))
    # Second-factor failures share the sign-in limits ([ratelimit] account_failures/window):
    # wrong TOTP codes and failed passkey assertions count in one window per account.
    mfa_throttle = MfaThrottle(ephemeral, limit=rl.account_failures, window=rl.window)
    mfa = MfaService(sessions, vault=protector.vault, audit=audit, clock=clock,
                     throttle=mfa_throttle)
    passkeys = PasskeyService(sessions, ephemeral, issuer=settings.issuer, audit=audit,
                              throttle=mfa_throttle, clock=clock)
    st = settings.staff
    console_sessions = ConsoleSessions(ephemeral, absolute_ttl=st.session_absolute_ttl,
                                       idle_ttl=st.session_idle_ttl, clock=clock)
    staff = StaffService(
        sessions, ephemeral, audit=audit, vault=protector.vault, clock=clock,
        hasher=PasswordHasher(time_cost=pw.time_cost, memory_cost=pw.memory_cost,
                              parallelism=pw.parallelism, min_length=st.password_min_length),
        max_failures=st.max_failures, failure_window=st.failure_window,
        on_signed_out=console_sessions.end_all)
    return Services(
        staff=staff,
        staff_tokens=StaffTokens(sessions, audit=audit, default_ttl=st.api_token_ttl,
                                 clock=clock),
        console_sessions=console_sessions,
        desk=CitizenDesk(accounts, sso, session_ending, mfa, passkeys, audit),
        settings=settings, engine=engine, sessions=sessions, ephemeral=ephemeral, audit=audit,
        keys=keys, protector=protector, registry=registry, table_registry=table_registry,
        accounts=accounts, clients=clients, policies=policies,
        initial_tokens=InitialAccessTokens(sessions, audit=audit, clock=clock),
        consents=ConsentService(sessions, clock=clock, tokens=tokens),
        sso=sso,
        codes=CodeStore(ephemeral, ttl=tok.authorization_code_ttl,
                        used_memory=tok.used_code_memory),
        tokens=tokens,
        session_ending=session_ending,
        session_limits=SessionLimits(sso, session_ending,
                                     max_per_account=settings.session.max_per_account),
        backchannel=backchannel,
        device=device,
        qr=QrLoginService(ephemeral, ttl=settings.qr.ticket_ttl, clock=clock),
        delegations=DelegationService(sessions, accounts=accounts, audit=audit, clock=clock),
        subjects=subjects,
        mfa=mfa,
        sms=SmsCodeService(ephemeral, build_sms_gateway(settings), audit=audit,
                           settings=settings.sms),
        face=FaceCheckService(ephemeral, build_face_verifier(settings, ephemeral), audit=audit,
                              settings=settings.face,
                              reveal_id_number=accounts.reveal_id_number),
        passkeys=passkeys,
    )
