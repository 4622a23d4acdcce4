"""The signed identity handed to the platform after sign-in: a short-lived RS256 JWT and its JWKS.

Signed with joserfc, the JOSE library of the Authlib project (Authlib's own `authlib.jose` is
deprecated in its favour): https://jose.authlib.org/en/
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.secret import Secret

LIFETIME = 300  # seconds; the platform exchanges it for its own session at once


def new_signing_key() -> str:
    """A new 2048-bit RSA private key, PEM."""
    return RSAKey.generate_key(2048).as_pem(private=True).decode()


class IdentitySigner:
    """Issues identity tokens for one issuer and audience, and publishes the public key."""

    def __init__(
        self,
        signing_key: Secret,
        issuer: str,
        audience: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = RSAKey.import_key(signing_key.reveal())
        self.key_id = self._key.thumbprint()
        self.issuer = issuer
        self.audience = audience
        self.clock = clock

    def issue(self, subject: str, claims: Mapping[str, Any]) -> str:
        """A JWT for `subject` carrying `claims`, valid for LIFETIME seconds."""
        now = int(self.clock())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        return jwt.encode(header, payload, self._key)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (what `/.well-known/jwks.json` serves)."""
        document = KeySet([self._key]).as_dict(private=False)
        for key in document["keys"]:
            key.update({"use": "sig", "alg": "RS256"})
        return dict(document)
