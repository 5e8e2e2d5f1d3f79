"""Discovery metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2, RFC 9207 §3; the
revocation, introspection and registration members of RFC 8414 §2).

Static between deployments: built once at start-up and served as pre-serialised bytes with an
ETag (DESIGN.md §5).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from idp.config import Settings
from idp.config.settings import DEVICE_CODE, TOKEN_EXCHANGE
from idp.oidc import acr, introspection, revocation, verified_claims
from idp.oidc.claims import CLAIMS_SUPPORTED


def metadata(settings: Settings) -> dict[str, Any]:
    iss = settings.issuer
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "device_authorization_endpoint": f"{iss}/device_authorization",
        "userinfo_endpoint": f"{iss}/userinfo",
        "jwks_uri": f"{iss}/jwks.json",
        "revocation_endpoint": f"{iss}/revoke",
        "introspection_endpoint": f"{iss}/introspect",
        "end_session_endpoint": f"{iss}/end_session",  # RP-Initiated Logout 1.0 §2.1
        # RFC 7591 §3 (RFC 8414 §2), with an initial access token: idp.oidc.registration
        **({"registration_endpoint": f"{iss}/register"} if settings.registration.enabled else {}),
        "backchannel_logout_supported": True,  # Back-Channel Logout 1.0 §2.1
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,  # Front-Channel Logout 1.0 §3
        "frontchannel_logout_session_supported": True,
        "scopes_supported": ["openid", "profile", "phone", "email", "address", "offline_access",
                             "id_card"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                  DEVICE_CODE, TOKEN_EXCHANGE],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": True,  # read for verified_claims and id_number
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": list(revocation.AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(introspection.AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        # What a sign-in here can reach (docs/assurance.md): L3 while face verification is on.
        "acr_values_supported": acr.supported(face=settings.face.backend != "none",
                                              names=acr.AcrNames.of(settings.assurance)),
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "ui_locales_supported": ["zh-CN", "en"],
        "claims_locales_supported": ["zh-CN"],
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect for Identity Assurance 1.0 §8 (idp.oidc.verified_claims)
        "verified_claims_supported": True,
        "trust_frameworks_supported": [verified_claims.TRUST_FRAMEWORK],
        "evidence_supported": list(verified_claims.EVIDENCE_TYPES),
        "documents_supported": list(verified_claims.DOCUMENT_TYPES),
        "claims_in_verified_claims_supported": list(verified_claims.CLAIMS_IN_VERIFIED_CLAIMS),
    }


@dataclass(frozen=True)
class StaticDocument:
    body: bytes
    etag: str

    @classmethod
    def of(cls, value: dict[str, Any]) -> StaticDocument:
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')
