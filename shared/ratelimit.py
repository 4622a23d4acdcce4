"""The per-consumer token bucket in Redis, shared by every worker process on every host.

Capacity is `burstSize`; refill is (`requestsPerHour` - `burstSize`) / 3600 tokens a second, so a
full bucket plus an hour of refill never exceeds `requestsPerHour` in any rolling hour, which is
Bitbucket's window. https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from shared.config.settings import RateLimit
from shared.lua import script

PREFIX = "bbrelay:bucket"
MAX_PAUSE = 300.0


class RateLimiterUnavailable(Exception):
    """Redis is unreachable: fail closed, the caller must not make the call."""


@dataclass(frozen=True)
class Decision:
    admitted: bool
    wait: float
    tokens_left: float
    strikes: int = 0


class TokenBucket:
    """One bucket per (consumer, group); one Lua round trip per decision."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        capacity: int,
        refill_per_second: float,
        prefix: str = PREFIX,
    ) -> None:
        self.capacity = capacity
        self.rate = refill_per_second
        self.prefix = prefix
        self.redis = client
        refill_time = capacity / refill_per_second if refill_per_second > 0 else 3600.0
        # An idle bucket is full again after `refill_time`; keep it only that long.
        self.idle_ms = int(1000 * (max(refill_time, MAX_PAUSE) + 60))
        self._take = client.register_script(script("token_bucket"))
        self._pause = client.register_script(script("bucket_pause"))

    @classmethod
    def from_settings(cls, client: redis.Redis[bytes], rate_limit: RateLimit) -> TokenBucket:
        refill = (rate_limit.requests_per_hour - rate_limit.burst_size) / 3600.0
        return cls(client, capacity=rate_limit.burst_size, refill_per_second=max(0.0, refill))

    def key(self, consumer: str, group: str) -> str:
        return f"{self.prefix}:{consumer}:{group}"

    def try_acquire(
        self, consumer: str, group: str = "default", *, tokens: int = 1, now: float | None = None
    ) -> Decision:
        """Take `tokens` if the bucket has them; else say how long until it will."""
        args = [self.capacity, repr(self.rate), tokens, "" if now is None else repr(now)]
        try:
            admitted, wait, left, strikes = self._take(
                keys=[self.key(consumer, group)], args=[*args, self.idle_ms]
            )
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        return Decision(bool(admitted), float(wait), float(left), int(strikes))

    def peek(self, consumer: str, group: str = "default") -> float:
        """Tokens left now, consuming none."""
        return self.try_acquire(consumer, group, tokens=0).tokens_left

    def pause(
        self,
        consumer: str,
        seconds: float | None,
        group: str = "default",
        *,
        now: float | None = None,
    ) -> float:
        """No token until `seconds` from now; None doubles the last pause (1 s … 300 s)."""
        args = ["" if seconds is None else repr(seconds), repr(MAX_PAUSE)]
        try:
            applied = self._pause(
                keys=[self.key(consumer, group)],
                args=[*args, "" if now is None else repr(now), self.idle_ms],
            )
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        return float(applied)

    def clear_strikes(self, consumer: str, group: str = "default") -> None:
        try:
            self.redis.hdel(self.key(consumer, group), "strikes")
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc


class ConsumerPool:
    """Several consumers; a call goes to one that has a token."""

    def __init__(self, bucket: TokenBucket, consumers: Sequence[str]) -> None:
        if not consumers:
            raise ValueError("a consumer pool needs at least one consumer")
        self.bucket = bucket
        self.consumers = list(consumers)
        self._start = itertools.count()
        self._struck: set[str] = set()

    def acquire(self, group: str = "default") -> tuple[str | None, Decision]:
        """The first consumer (rotating) that admits; else None and the shortest wait."""
        offset = next(self._start) % len(self.consumers)
        best: Decision | None = None
        for consumer in self.consumers[offset:] + self.consumers[:offset]:
            decision = self.bucket.try_acquire(consumer, group)
            if decision.strikes:
                self._struck.add(consumer)
            if decision.admitted:
                return consumer, decision
            if best is None or decision.wait < best.wait:
                best = decision
        assert best is not None
        return None, best

    def backoff(self, consumer: str, retry_after: float | None, group: str = "default") -> float:
        """After a 429: pause that consumer (Retry-After when sent, else exponential)."""
        self._struck.add(consumer)
        return self.bucket.pause(consumer, retry_after, group)

    def record_success(self, consumer: str, group: str = "default") -> None:
        """A 2xx ends the back-off; costs a Redis call only after a 429."""
        if consumer in self._struck:
            self.bucket.clear_strikes(consumer, group)
            self._struck.discard(consumer)
