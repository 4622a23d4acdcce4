"""Verify Bitbucket's `X-Hub-Signature: <alg>=<hex>` over the raw body, in constant time."""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Iterable

from shared.secret import Secret
from shared.signing import hmac_hex

# sha256 is what Bitbucket sends; the others are accepted when they verify.
ALGORITHMS = {
    "sha256": hashlib.sha256,
    "sha1": hashlib.sha1,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_HEX = frozenset(string.hexdigits)


def verify(secrets: Iterable[Secret], body: bytes, header: str | None) -> bool:
    """True when `header` is an HMAC of `body` under any of `secrets`.

    Several secrets let an operator rotate one without rejecting deliveries.
    https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
    """
    if not header or "=" not in header:
        return False
    algorithm, _, digest = header.strip().partition("=")
    digestmod = ALGORITHMS.get(algorithm.lower())
    if digestmod is None or not digest or not _HEX.issuperset(digest):
        return False
    if len(digest) != digestmod().digest_size * 2:
        return False
    expected = digest.lower().encode()
    matched = False
    for secret in secrets:
        candidate = hmac_hex(secret.reveal(), body, digestmod).encode()
        matched |= hmac.compare_digest(candidate, expected)
    return matched


def sign(secret: Secret, body: bytes, algorithm: str = "sha256") -> str:
    """The header value Bitbucket would send for `body`; used by send-test-event and tests."""
    digest = hmac_hex(secret.reveal(), body, ALGORITHMS[algorithm])
    return f"{algorithm}={digest}"
