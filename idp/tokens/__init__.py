"""Tokens: authorization codes (ephemeral, single-use) and issued tokens (durable records)."""

from idp.tokens.codes import AuthorizationCode, CodeStore
from idp.tokens.service import AccessTokenInfo, IssueContext, PresentedToken, TokenService

__all__ = ["AccessTokenInfo", "AuthorizationCode", "CodeStore", "IssueContext", "PresentedToken",
           "TokenService"]
