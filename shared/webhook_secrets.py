"""Webhook secrets added at run time by `bbrelay hooks rotate-secret`, shared through Redis.

The receiver accepts a signature made with any configured secret or any secret in this ring, so
hooks can be moved to a new secret one by one without a single delivery failing. The ring is read
only when the configured secrets do not verify, and cached for a few seconds. Each secret is kept
sealed (see `shared.sealing`) and is accepted for `rotatedSecretLifetime` after it was added
(put it in `webhookSecret` before then); `bbrelay hooks retire-secret` removes one at once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from shared.sealing import SealBroken, Sealer
from shared.secret import Secret

RING_KEY = "bbrelay:webhook-secrets"
CACHE_SECONDS = 2.0
DEFAULT_LIFETIME = 7 * 86400.0


def fingerprint(secret: str) -> str:
    """A name for a secret that reveals nothing of it: the start of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class RingEntry:
    secret: Secret
    added_at: float
    sealed: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret.reveal())


class SecretRing:
    def __init__(
        self,
        client: redis.Redis[bytes],
        sealer: Sealer,
        *,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.sealer = sealer
        self.lifetime = lifetime
        self.clock = clock
        self._cached: tuple[float, tuple[Secret, ...]] = (0.0, ())

    def add(self, secret: str) -> None:
        """Accept `secret` from now on; the newest is what hooks are given. Expired ones go."""
        now = self.clock()
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(RING_KEY, "-inf", f"({now - self.lifetime}")
        pipe.zadd(RING_KEY, {self.sealer.seal(secret): now})
        pipe.execute()

    def entries(self) -> list[RingEntry]:
        """The secrets still accepted, oldest first. Reading never writes (the receiver reads on
        every delivery its configured secrets do not verify): expired ones go on `add`/`retire`."""
        oldest = self.clock() - self.lifetime
        found = []
        for sealed, added_at in self.redis.zrangebyscore(RING_KEY, oldest, "+inf", withscores=True):
            try:
                found.append(RingEntry(Secret(self.sealer.unseal(sealed)), added_at, sealed))
            except SealBroken:
                continue  # sealed under a key no longer configured: it cannot be used
        return found

    def retire(self, fingerprints: set[str]) -> list[RingEntry]:
        """Stop accepting the secrets with these fingerprints now; the entries removed."""
        gone = [entry for entry in self.entries() if entry.fingerprint in fingerprints]
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(RING_KEY, "-inf", f"({self.clock() - self.lifetime}")
        if gone:
            pipe.zrem(RING_KEY, *(entry.sealed for entry in gone))
        pipe.execute()
        return gone

    def newest(self) -> str | None:
        entries = self.entries()
        return entries[-1].secret.reveal() if entries else None

    def secrets(self) -> tuple[Secret, ...]:
        """The ring's secrets, from a cache refreshed every couple of seconds."""
        fetched_at, cached = self._cached
        if time.monotonic() - fetched_at < CACHE_SECONDS:
            return cached
        values = tuple(entry.secret for entry in self.entries())
        self._cached = (time.monotonic(), values)
        return values
