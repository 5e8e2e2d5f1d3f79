"""Consents: which scopes a citizen allowed a client (one row per citizen × client)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock, system_clock, to_datetime
from idp.store.models import Consent


class TokenRevoker(Protocol):
    def revoke_for_client(self, account_id: str, client_id: str, *, reason: str) -> int: ...


class ConsentService:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = system_clock,
                 tokens: TokenRevoker | None = None) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tokens = tokens

    def granted(self, account_id: str, client_id: str) -> set[str] | None:
        """The consented scopes; None when the citizen never consented to this client."""
        with self._sessions() as session:
            row = session.scalar(select(Consent).where(Consent.account_id == account_id,
                                                       Consent.client_id == client_id))
        return set(row.scopes) if row else None

    def for_account(self, account_id: str) -> list[Consent]:
        """Every consent the citizen gave, most recent first (the account centre lists them)."""
        with self._sessions() as session:
            return list(session.scalars(
                select(Consent).where(Consent.account_id == account_id)
                .order_by(Consent.granted_at.desc(), Consent.client_id)))

    def grant(self, account_id: str, client_id: str, scopes: set[str]) -> None:
        """Add scopes to the consent (earlier grants stay)."""
        now = to_datetime(self._clock())
        with self._sessions.begin() as session:
            row = session.scalar(select(Consent).where(Consent.account_id == account_id,
                                                       Consent.client_id == client_id))
            if row is None:
                session.add(Consent(account_id=account_id, client_id=client_id,
                                    scopes=sorted(scopes), granted_at=now))
            else:
                row.scopes = sorted(set(row.scopes) | scopes)
                row.granted_at = now

    def revoke(self, account_id: str, client_id: str) -> bool:
        """Withdraw the consent; the tokens the client holds for this citizen stop working
        (access and refresh), so the portal must ask again."""
        with self._sessions.begin() as session:
            row = session.scalar(select(Consent).where(Consent.account_id == account_id,
                                                       Consent.client_id == client_id))
            if row is None:
                return False
            session.delete(row)
        if self._tokens is not None:
            self._tokens.revoke_for_client(account_id, client_id, reason="consent_withdrawn")
        return True
