"""Prometheus metrics of the IdP (text exposition format 0.0.4, served at ``/metrics``).

* ``idp_http_requests_total{endpoint, method, status}`` — requests answered;
* ``idp_http_request_duration_seconds{endpoint, method}`` — time to answer (histogram,
  buckets from 1 ms to 2 s);
* ``idp_signins_total{method, outcome}`` — sign-in steps, from the audit trail;
* ``idp_tokens_issued_total{channel, grant_type}`` — token responses issued.

Every label has a bounded set of values: ``endpoint`` is the Flask endpoint name of the matched
route (``oidc.token``), never the path, which carries client ids and key ids — a request no
route matched is ``unmatched``; ``method`` is one of :data:`METHODS` or ``other``.

Sign-ins are counted from the audit trail (:meth:`idp.audit.AuditTrail.subscribe`), through the
one table :data:`SIGNIN_TAGS`: every sign-in outcome is audited already, so no domain service
learns about Prometheus. Tokens are counted from :meth:`idp.tokens.TokenService.subscribe`.

Several worker processes (``idp serve``) share their values through files in one directory
(``prometheus_client``'s multiprocess mode): :class:`Metrics` then adds up every worker's files
at each scrape. That mode is chosen by ``prometheus_client`` when it is first imported, from the
``PROMETHEUS_MULTIPROC_DIR`` variable ``idp serve`` sets; :class:`Metrics` refuses a directory
when the mode is off, rather than report one worker's counts as everyone's. Values of a worker
that died stay in the sum (counters never go back); we define no live gauges, so there is
nothing for ``multiprocess.mark_process_dead`` to clean up.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from idp.errors import ConfigError
from idp.tokens import IssueContext

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# What generate_latest writes (names and labels are all legacy-valid): the text format every
# Prometheus server reads, 2.x included.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Audit tag → (method, outcome) of idp_signins_total. Methods: a citizen's password, the app's
# scan-to-login (qr), second factors and step-ups (totp, recovery_code, sms, passkey, face), and
# staff (password + TOTP in one step). Outcomes: success, failure (wrong credentials or code),
# throttled (refused by a rate limit before checking), locked (right password, locked account),
# denied (the citizen declined in the app).
SIGNIN_TAGS: dict[str, tuple[str, str]] = {
    "account:login:success": ("password", "success"),
    "account:login:failure": ("password", "failure"),
    "account:login:throttled": ("password", "throttled"),
    "account:login:locked": ("password", "locked"),
    "qr:login:completed": ("qr", "success"),
    "qr:login:denied": ("qr", "denied"),
    "qr:login:refused": ("qr", "failure"),
    "mfa:totp:verify:success": ("totp", "success"),
    "mfa:totp:verify:failure": ("totp", "failure"),
    "mfa:recovery:use": ("recovery_code", "success"),
    "mfa:recovery:failure": ("recovery_code", "failure"),
    "mfa:sms:verify:success": ("sms", "success"),
    "mfa:sms:verify:failure": ("sms", "failure"),
    "mfa:passkey:verify:success": ("passkey", "success"),
    "mfa:passkey:verify:failure": ("passkey", "failure"),
    "face:verify:success": ("face", "success"),
    "face:verify:failure": ("face", "failure"),
    "staff:login:success": ("staff", "success"),
    "staff:login:failure": ("staff", "failure"),
    "staff:login:throttled": ("staff", "throttled"),
}


def multiprocess_mode() -> bool:
    """Whether ``prometheus_client`` keeps values in per-process files (it decided when it was
    first imported, from ``PROMETHEUS_MULTIPROC_DIR``)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class Metrics:
    """The IdP's metrics, in a registry of their own (one per app: no global state)."""

    content_type = CONTENT_TYPE

    def __init__(self, *, multiproc_dir: str | None = None) -> None:
        if multiproc_dir and not multiprocess_mode():
            raise ConfigError(
                f"metrics.dir is {multiproc_dir!r} but prometheus_client is not in multiprocess "
                "mode: PROMETHEUS_MULTIPROC_DIR must be set before it is imported (`idp serve` "
                "does this; leave metrics.dir empty for a single process)")
        self._multiproc_dir = multiproc_dir or None
        # No *_created series (the multiprocess mode has none either): a process-wide switch.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "idp_http_requests", "HTTP requests answered, by route endpoint, method and status.",
            ("endpoint", "method", "status"), registry=self.registry)
        self.latency = Histogram(
            "idp_http_request_duration_seconds",
            "Time from receiving a request to its response, by route endpoint and method.",
            ("endpoint", "method"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.signins = Counter(
            "idp_signins", "Sign-in steps (password, QR, second factors, staff) by outcome.",
            ("method", "outcome"), registry=self.registry)
        self.tokens = Counter(
            "idp_tokens_issued", "Token responses issued, by the client's channel and grant.",
            ("channel", "grant_type"), registry=self.registry)
        for method, outcome in SIGNIN_TAGS.values():  # every series present, at 0 until used
            self.signins.labels(method, outcome)

    def request_done(self, endpoint: str | None, method: str, status: int,
                     seconds: float) -> None:
        endpoint = endpoint or UNMATCHED
        method = method if method in METHODS else "other"
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint, method).observe(seconds)

    def audited(self, tag: str) -> None:
        """An audit event was recorded (:meth:`idp.audit.AuditTrail.subscribe`)."""
        signin = SIGNIN_TAGS.get(tag)
        if signin is not None:
            self.signins.labels(*signin).inc()

    def token_issued(self, ctx: IssueContext) -> None:
        """Tokens were issued (:meth:`idp.tokens.TokenService.subscribe`)."""
        self.tokens.labels(ctx.client.channel, ctx.grant_type).inc()

    def exposition(self) -> bytes:
        """The text exposition: this process's values, or the sum over every worker."""
        if self._multiproc_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self._multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
