"""A Redis list of JSON bodies delivered to a sink oldest first, signed, until each is accepted.

Team diffs and inventory changes both go out this way: the producer appends in the same
transaction that saves its state, and one deliverer at a time POSTs the head and drops it only
once the sink answered 2xx, so the sink sees every body once or more, in order.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import redis
import structlog

from shared.bitbucket.errors import RetryableError
from shared.lua import script
from shared.secret import Secret
from shared.signing import signed_headers

log = structlog.get_logger(__name__)


class SinkUnavailable(RetryableError):
    """The sink did not accept a body; it stays at the head of the outbox."""


def encode(document: dict[str, Any]) -> str:
    """The exact bytes queued and signed (sorted keys, so equal documents are equal bodies)."""
    return json.dumps(document, sort_keys=True)


class Outbox:
    """One sink's queue in Redis under `key`."""

    def __init__(self, client: redis.Redis[bytes], key: str) -> None:
        self.redis = client
        self.key = key
        self._pop_if_head = client.register_script(script("pop_if_head"))

    def push(self, document: dict[str, Any]) -> None:
        self.redis.rpush(self.key, encode(document))

    def head(self) -> bytes | None:
        head = self.redis.lindex(self.key, 0)
        return bytes(head) if head is not None else None

    def pop_head(self, head: bytes) -> bool:
        """Drop the head only if it is still `head` (it was delivered)."""
        return bool(self._pop_if_head(keys=[self.key], args=[head]))

    def length(self) -> int:
        return int(self.redis.llen(self.key))


def deliver(outbox: Outbox, http: httpx.Client, url: str, secret: Secret, *, what: str) -> int:
    """POST queued bodies oldest first; stop at the first refusal. Returns how many went.

    The caller holds the lock that makes it the only deliverer of this outbox.
    """
    sent = 0
    while (head := outbox.head()) is not None:
        headers = {"Content-Type": "application/json", **signed_headers(secret.reveal(), head)}
        try:
            response = http.post(url, content=head, headers=headers)
        except httpx.TransportError as exc:
            raise SinkUnavailable(f"{what} sink unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise SinkUnavailable(f"{what} sink answered {response.status_code}")
        outbox.pop_head(head)
        sent += 1
    return sent
