"""OpenID Connect RP-Initiated Logout 1.0: what the ``end_session_endpoint`` decides.

- §2 (the request): ``id_token_hint`` (RECOMMENDED), ``logout_hint``, ``client_id``,
  ``post_logout_redirect_uri``, ``state``, ``ui_locales``. The hint must be an ID token this OP
  signed (signature against our keys, our ``iss``); its expiry is not checked — §2 says an
  expired hint is still a valid hint. A ``client_id`` sent with a hint must be its audience.
  ``logout_hint`` is accepted and not used (§2 lets the OP ignore it).
- §3 (redirection): only to a ``post_logout_redirect_uri`` registered for the client identified
  by the hint or ``client_id``, compared exactly; ``state`` is appended when sent. Anything else
  is never redirected to.
- §2, §6 (logout CSRF): without a hint naming the browser's own session, the OP asks the
  End-User before signing out; :meth:`EndSession.names_session` tells the view which case it is.

Reading :data:`STEPS` tells the order of the checks. Each step fills in the context or raises
:class:`InvalidEndSessionRequest` (§4: a failed validation is shown as an error page, never
redirected). Framework-free:
``idp.web.views.logout`` parses the request, calls :func:`resolve` and acts on the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.clients.service import ClientRecord

ALGORITHMS = ["RS256", "ES256"]  # what we sign ID tokens with; never "none"
ID_TOKEN_TYPES = (None, "JWT")  # refuses access tokens (at+jwt) and logout tokens (logout+jwt)
MAX_PARAM = 8192  # longer values are not ours (our ID tokens are well under 2 KB)
PARAMS = ("id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state",
          "ui_locales")


class InvalidEndSessionRequest(Exception):
    """The request cannot be acted on (a forged hint, a mismatched client): show an error."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class EndSessionRequest:
    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None
    ui_locales: str | None = None
    logout_hint: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> EndSessionRequest:
        values: dict[str, str | None] = {}
        for name in PARAMS:
            value = params.get(name) or None
            if value is not None and len(value) > MAX_PARAM:
                raise InvalidEndSessionRequest(f"{name} is too long")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class Hint:
    """The claims of a verified ``id_token_hint`` that logout needs."""

    sub: str
    sid: str | None
    audiences: tuple[str, ...]
    azp: str | None


@dataclass(frozen=True)
class EndSession:
    """The decision: who asked (client), where to send the browser afterwards, and whether a
    requested address was refused (so the page can say why the citizen was not sent back)."""

    hint: Hint | None
    client: ClientRecord | None
    redirect_to: str | None
    redirect_refused: bool

    def names_session(self, account_id: str, sid: str, *,
                      sub_for: Callable[[str, ClientRecord], str] | None = None) -> bool:
        """True when the hint names this very session: sign out without asking (§2).
        ``sub_for`` (:meth:`idp.accounts.subjects.SubjectService.sub_for`) turns the account
        id into the client's view of it, for clients given pairwise ``sub`` values."""
        expected = account_id
        if sub_for is not None and self.client is not None:
            expected = sub_for(account_id, self.client)
        return (self.hint is not None and self.hint.sub == expected
                and self.hint.sid is not None and self.hint.sid == sid)


@dataclass
class EndSessionContext:
    request: EndSessionRequest
    key_set: Callable[[], KeySet]
    issuer: str
    lookup_client: Callable[[str], ClientRecord | None]
    hint: Hint | None = None
    client: ClientRecord | None = None
    redirect_to: str | None = None
    redirect_refused: bool = False


Step = Callable[[EndSessionContext], None]


def check_id_token_hint(ctx: EndSessionContext) -> None:
    """§2: an ID token we issued, expired or not; anything else is refused outright."""
    raw = ctx.request.id_token_hint
    if raw is None:
        return
    try:
        decoded = jwt.decode(raw, ctx.key_set(), algorithms=ALGORITHMS)
    except (JoseError, ValueError, TypeError):
        raise InvalidEndSessionRequest("id_token_hint is not an ID token issued here") from None
    if decoded.header.get("typ") not in ID_TOKEN_TYPES:
        raise InvalidEndSessionRequest("id_token_hint is not an ID token")
    claims: dict[str, Any] = dict(decoded.claims)
    if claims.get("iss") != ctx.issuer:
        raise InvalidEndSessionRequest("id_token_hint was issued by another issuer")
    sub, sid, azp = claims.get("sub"), claims.get("sid"), claims.get("azp")
    aud = claims.get("aud")
    audiences = tuple(aud) if isinstance(aud, list) else (aud,) if aud else ()
    if not isinstance(sub, str) or not sub or not audiences \
            or not all(isinstance(a, str) for a in audiences):
        raise InvalidEndSessionRequest("id_token_hint lacks sub or aud")
    ctx.hint = Hint(sub=sub, sid=sid if isinstance(sid, str) else None, audiences=audiences,
                    azp=azp if isinstance(azp, str) else None)


def check_client(ctx: EndSessionContext) -> None:
    """§2: ``client_id`` sent with a hint must be the hint's audience; the client is then the
    one named by ``client_id``, or the hint's ``azp`` / single audience. An unknown or
    disabled client is simply not identified (no redirect follows)."""
    hint, client_id = ctx.hint, ctx.request.client_id
    if hint is not None and client_id is not None \
            and client_id not in hint.audiences and client_id != hint.azp:
        raise InvalidEndSessionRequest("client_id is not the audience of id_token_hint")
    if client_id is None and hint is not None:
        client_id = hint.azp or (hint.audiences[0] if len(hint.audiences) == 1 else None)
    if client_id is None:
        return
    record = ctx.lookup_client(client_id)
    if record is not None and record.status == "active":
        ctx.client = record


def check_post_logout_redirect_uri(ctx: EndSessionContext) -> None:
    """§3: exact match against the identified client's registered addresses, plus ``state``.
    An address we cannot vouch for is refused, never followed."""
    uri = ctx.request.post_logout_redirect_uri
    if uri is None:
        return
    if ctx.client is None or uri not in ctx.client.post_logout_redirect_uris:
        ctx.redirect_refused = True
        return
    state = ctx.request.state
    ctx.redirect_to = add_params_to_uri(uri, [("state", state)]) if state else uri


STEPS: tuple[Step, ...] = (check_id_token_hint, check_client, check_post_logout_redirect_uri)


def resolve(request: EndSessionRequest, *, key_set: Callable[[], KeySet], issuer: str,
            lookup_client: Callable[[str], ClientRecord | None]) -> EndSession:
    """Run :data:`STEPS`; raises :class:`InvalidEndSessionRequest`."""
    ctx = EndSessionContext(request=request, key_set=key_set, issuer=issuer,
                            lookup_client=lookup_client)
    for step in STEPS:
        step(ctx)
    return EndSession(hint=ctx.hint, client=ctx.client, redirect_to=ctx.redirect_to,
                      redirect_refused=ctx.redirect_refused)
