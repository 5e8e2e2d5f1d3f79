"""The append-only, hash-chained audit trail: one door for every security-relevant action."""

from idp.audit.service import AuditTrail, VerifyResult

__all__ = ["AuditTrail", "VerifyResult"]
