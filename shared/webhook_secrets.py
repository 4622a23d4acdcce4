"""Webhook secrets added at run time by `bbrelay hooks rotate-secret`, shared through Redis.

The receiver accepts a signature made with any configured secret or any secret in this ring, so
hooks can be moved to a new secret one by one without a single delivery failing. The ring is read
only when the configured secrets do not verify, and cached for a few seconds.
"""

from __future__ import annotations

import time

import redis

from shared.secret import Secret

RING_KEY = "bbrelay:webhook-secrets"
CACHE_SECONDS = 2.0


class SecretRing:
    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.redis = client
        self._cached: tuple[float, tuple[Secret, ...]] = (0.0, ())

    def add(self, secret: str) -> None:
        """Accept `secret` from now on; the newest is what hooks are given."""
        self.redis.zadd(RING_KEY, {secret: time.time()})

    def remove(self, secret: str) -> bool:
        return bool(self.redis.zrem(RING_KEY, secret))

    def newest(self) -> str | None:
        newest = self.redis.zrevrange(RING_KEY, 0, 0)
        return newest[0].decode() if newest else None

    def secrets(self) -> tuple[Secret, ...]:
        """The ring's secrets, from a cache refreshed every couple of seconds."""
        fetched_at, cached = self._cached
        if time.monotonic() - fetched_at < CACHE_SECONDS:
            return cached
        values = tuple(Secret(raw.decode()) for raw in self.redis.zrange(RING_KEY, 0, -1))
        self._cached = (time.monotonic(), values)
        return values
