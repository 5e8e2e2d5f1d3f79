"""Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8).

:class:`BackchannelLogout` is the fan-out of :class:`idp.sessions.SessionEnding`: when a
session ends it queues one logout per client that took part (:mod:`idp.sessions.logout_queue`)
and wakes the worker, which signs a fresh logout token per attempt (same ``jti``) and POSTs it
as ``logout_token`` to the client's ``backchannel_logout_uri``:

- 2xx: delivered (§2.8 says 200; 204 is accepted too).
- connection refused, timeout, 5xx, 408, 429: retried with exponential back-off
  (``retry_initial`` doubling up to ``retry_max``) until ``give_up_after`` seconds after the
  session ended, then recorded as failed.
- any other 4xx: the client refuses the token (§2.8: 400 when invalid); recorded, not retried.
- 3xx: redirects are not followed (the registered URI is the only address a logout token goes
  to): recorded as rejected, like a 4xx — the registration needs fixing, not a retry.

Every final outcome is audited (``logout:backchannel:success|rejected|failure``). The worker is
a daemon thread per server process (:meth:`start`); the queue's leases let every process and
node of a deployment work the same queue.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import requests

from idp.accounts.subjects import SubjectService
from idp.clock import Clock, system_clock
from idp.config.settings import LogoutSettings
from idp.errors import KeyMaterialError
from idp.sessions.logout_queue import DELIVERED, FAILED, REJECTED, Delivery, LogoutQueue
from idp.sessions.logout_tokens import LogoutTokenSigner
from idp.sessions.service import SsoSession

log = logging.getLogger(__name__)
RETRYABLE_4XX = (408, 425, 429)
BATCH = 20


class _ClientRecord(Protocol):
    @property
    def client_id(self) -> str: ...
    @property
    def extra(self) -> dict[str, Any]: ...
    @property
    def backchannel_logout_uri(self) -> str | None: ...
    @property
    def id_token_signed_response_alg(self) -> str: ...


class _Clients(Protocol):
    def get(self, client_id: str) -> _ClientRecord | None: ...


class _Audit(Protocol):
    def record(self, actor: str, tag: str, *, subject: str | None = ...,
               client_id: str | None = ..., ip: str | None = ...,
               extra: dict[str, Any] | None = ...) -> int: ...


class BackchannelLogout:
    def __init__(self, queue: LogoutQueue, signer: LogoutTokenSigner, clients: _Clients,
                 audit: _Audit, settings: LogoutSettings, *, default_alg: str,
                 subjects: SubjectService, clock: Clock = system_clock) -> None:
        self.queue = queue
        self._subjects = subjects
        self._signer = signer
        self._clients = clients
        self._audit = audit
        self._settings = settings
        self._default_alg = default_alg
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()
        self._http.trust_env = False  # no proxy from the environment for internal RP calls

    # -- fan-out ----------------------------------------------------------------------
    def session_ended(self, ended: SsoSession) -> int:
        """Queue the logouts of an ended session (durably) and wake the worker."""
        queued = self.queue.enqueue(ended, self._clients)
        if queued:
            self._wake.set()
        return queued

    def client_left(self, session: SsoSession, client_id: str) -> int:
        """One client leaves a session that goes on (the citizen withdrew its consent): queue
        its logout for this ``sid`` alone and wake the worker."""
        queued = self.queue.enqueue(session, self._clients, only=client_id)
        if queued:
            self._wake.set()
        return queued

    # -- delivery ---------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Deliver every due logout once; returns how many attempts were made."""
        lease = self._settings.timeout * 2 + 5
        attempts = 0
        while True:
            batch = self.queue.claim_due(limit=BATCH, lease=lease)
            for delivery in batch:
                self._attempt(delivery)
            attempts += len(batch)
            if len(batch) < BATCH:
                return attempts

    def _attempt(self, delivery: Delivery) -> None:
        record = self._clients.get(delivery.client_id)
        alg = record.id_token_signed_response_alg if record is not None else self._default_alg
        # The queue keeps the account id; the token carries the client's own view of it
        # (public or pairwise, OIDC Core §8). A client no longer registered gets only ``sid``
        # (Back-Channel Logout 1.0 §2.4: ``sub`` or ``sid``), never the bare account id.
        sub = self._subjects.sub_for(delivery.sub, record) if record is not None else None
        try:
            token = self._signer.sign(client_id=delivery.client_id, alg=alg, sub=sub,
                                      sid=delivery.sid, jti=delivery.jti)
        except KeyMaterialError as exc:
            self._retry(delivery, None, str(exc))
            return
        try:
            answer = self._http.post(
                delivery.uri, data={"logout_token": token}, timeout=self._settings.timeout,
                allow_redirects=False, headers={"Cache-Control": "no-store"})
        except requests.RequestException as exc:
            self._retry(delivery, None, type(exc).__name__)
            return
        status = answer.status_code
        answer.close()
        if 200 <= status < 300:
            self.queue.finish(delivery, DELIVERED, http_status=status)
            self._record(delivery, "success", status)
        elif status < 500 and status not in RETRYABLE_4XX:  # 4xx, or a redirect (not followed)
            self.queue.finish(delivery, REJECTED, http_status=status,
                              error=f"client answered HTTP {status}")
            self._record(delivery, "rejected", status)
        else:
            self._retry(delivery, status, f"HTTP {status}")

    def _retry(self, delivery: Delivery, status: int | None, error: str) -> None:
        now = self._clock()
        lo = self._settings
        delay = min(lo.retry_initial * 2 ** max(delivery.attempts - 1, 0), lo.retry_max)
        if now + delay - delivery.created_at > lo.give_up_after:
            self.queue.finish(delivery, FAILED, http_status=status, error=error)
            self._record(delivery, "failure", status, error)
            return
        self.queue.retry_at(delivery, now + delay, http_status=status, error=error)

    def _record(self, delivery: Delivery, outcome: str, status: int | None,
                error: str | None = None) -> None:
        extra: dict[str, Any] = {"attempts": delivery.attempts, "jti": delivery.jti}
        if status is not None:
            extra["http_status"] = status
        if error:
            extra["error"] = error
        self._audit.record("system", f"logout:backchannel:{outcome}", subject=delivery.sub,
                           client_id=delivery.client_id, extra=extra)

    # -- the worker thread ------------------------------------------------------------
    def start(self) -> None:
        """Run the delivery loop in a daemon thread of this process (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="backchannel-logout",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a wake-up during the pass below is kept for the next one
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 — the loop must outlive a database hiccup
                log.exception("back-channel logout delivery pass failed")
            self._wake.wait(self._settings.poll_interval)
