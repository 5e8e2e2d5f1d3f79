"""Consents: which scopes a citizen allowed a client (one row per citizen × client)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import Clock, system_clock, to_datetime
from idp.store.models import Consent


class ConsentService:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Clock = system_clock) -> None:
        self._sessions = sessions
        self._clock = clock

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
        with self._sessions.begin() as session:
            row = session.scalar(select(Consent).where(Consent.account_id == account_id,
                                                       Consent.client_id == client_id))
            if row is None:
                return False
            session.delete(row)
            return True
