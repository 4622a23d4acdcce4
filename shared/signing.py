"""HMAC signatures: the one helper (also behind the webhook check), stamped outgoing bodies,
and per-job tokens.

A receiver of a signed body recomputes `sha256=HMAC(secret, f"{timestamp}.{body}")` from the
`X-Relay-Timestamp` header and the raw body, compares in constant time, and rejects a timestamp
older than a few minutes, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

SIGNATURE_HEADER = "X-Relay-Signature"
TIMESTAMP_HEADER = "X-Relay-Timestamp"
JOB_TOKEN_HEADER = "X-Relay-Job-Token"  # noqa: S105 (a header name)


def hmac_hex(secret: str, message: bytes, digest: Callable[..., Any] = hashlib.sha256) -> str:
    """The hex HMAC of `message` under `secret` (SHA-256 unless another `digest` is given)."""
    return hmac.new(secret.encode(), message, digest).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """`X-Relay-Timestamp` (Unix seconds) and `X-Relay-Signature` over `f"{timestamp}.{body}"`."""
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac_hex(secret, timestamp.encode() + b"." + body)
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"sha256={digest}"}


def job_token(secret: str, job_id: str) -> str:
    """The token that lets the platform report on this job alone: HMAC of its id."""
    return hmac_hex(secret, job_id.encode())


def token_matches(secret: str, job_id: str, offered: str | None) -> bool:
    """Whether `offered` is the job's token, compared in constant time."""
    if not offered:
        return False
    return hmac.compare_digest(job_token(secret, job_id).encode(), offered.strip().encode())
