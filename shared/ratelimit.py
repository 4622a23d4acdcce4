"""The per-consumer token bucket in Redis, shared by every worker process on every host.

Capacity is `burstSize`; refill is (`requestsPerHour` - `burstSize`) / 3600 tokens a second, so a
full bucket plus an hour of refill never exceeds `requestsPerHour` in any rolling hour, which is
Bitbucket's window. https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/

`requestsPerHour` is the assumption until Bitbucket announces the hour's limit
(`X-RateLimit-Limit`, scaled limits of 1,000 to 10,000 an hour); the refill then follows it,
never above a `requestsPerHour` the operator set, and halves while `X-RateLimit-NearLimit` says
the limit is near. https://www.atlassian.com/blog/bitbucket/introducing-scaled-rate-limits-for-bitbucket-cloud-api
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from shared.config.settings import RateLimit
from shared.lua import script

PREFIX = "bbrelay:bucket"
NO_RECORD_PAUSE = 300.0  # after a 429 with no Retry-After and no call of ours in the hour


class RateLimiterUnavailable(Exception):
    """Redis is unreachable: fail closed, the caller must not make the call."""


@dataclass(frozen=True)
class Decision:
    admitted: bool
    wait: float
    tokens_left: float


class TokenBucket:
    """One bucket per (consumer, group); one Lua round trip per decision."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        capacity: int,
        refill_per_second: float,
        ceiling: int | None = None,
        prefix: str = PREFIX,
    ) -> None:
        self.capacity = capacity
        self.rate = refill_per_second
        self.ceiling = ceiling
        self.prefix = prefix
        self.redis = client
        refill_time = capacity / refill_per_second if refill_per_second > 0 else 3600.0
        # An idle bucket is full again after `refill_time`; keep it only that long.
        self.idle_ms = int(1000 * (max(refill_time, NO_RECORD_PAUSE) + 60))
        self._take = client.register_script(script("token_bucket"))
        self._pause = client.register_script(script("bucket_pause"))

    @classmethod
    def from_settings(cls, client: redis.Redis[bytes], rate_limit: RateLimit) -> TokenBucket:
        refill = (rate_limit.requests_per_hour - rate_limit.burst_size) / 3600.0
        return cls(
            client,
            capacity=rate_limit.burst_size,
            refill_per_second=max(0.0, refill),
            ceiling=rate_limit.ceiling,
        )

    def key(self, consumer: str, group: str) -> str:
        return f"{self.prefix}:{consumer}:{group}"

    def _keys(self, consumer: str, group: str) -> list[str]:
        key = self.key(consumer, group)
        return [key, f"{key}:calls"]

    def try_acquire(
        self,
        consumer: str,
        group: str = "default",
        *,
        tokens: int = 1,
        leave: int = 0,
        now: float | None = None,
    ) -> Decision:
        """Take `tokens` if the bucket has them and `leave` more; else say how long until then."""
        args = [self.capacity, repr(self.rate), tokens, "" if now is None else repr(now)]
        extra = [self.idle_ms, leave, "" if self.ceiling is None else self.ceiling]
        try:
            admitted, wait, left = self._take(keys=self._keys(consumer, group), args=args + extra)
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        return Decision(bool(admitted), float(wait), float(left))

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
        """No token until `seconds` from now; None: until the rolling hour lets out the oldest
        call the bucket recorded (or NO_RECORD_PAUSE when it recorded none)."""
        args = ["" if seconds is None else repr(seconds), repr(NO_RECORD_PAUSE)]
        try:
            applied = self._pause(
                keys=self._keys(consumer, group),
                args=[*args, "" if now is None else repr(now), self.idle_ms],
            )
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        return float(applied)

    def announce(self, consumer: str, group: str, limit: int | None, near: bool) -> None:
        """What Bitbucket said of this hour: its limit (None: not said) and whether it is near."""
        fields: dict[str | bytes, bytes | float | int | str] = {"near": "1" if near else "0"}
        if limit is not None:
            fields["limit"] = str(limit)
        try:
            with self.redis.pipeline() as pipe:
                pipe.hset(self.key(consumer, group), mapping=fields)
                pipe.pexpire(self.key(consumer, group), self.idle_ms)
                pipe.execute()
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc

    def per_hour(self, consumer: str, group: str = "default") -> int:
        """The hourly limit in force: Bitbucket's announced one (never above the operator's),
        else the configured assumption."""
        try:
            announced = self.redis.hget(self.key(consumer, group), "limit")
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(str(exc)) from exc
        assumed = round(self.capacity + self.rate * 3600)
        if announced is None:
            return assumed
        return min(int(announced), self.ceiling) if self.ceiling else int(announced)

    def reserve(self, share: float) -> int:
        """The tokens a caller must leave in the bucket to keep `share` of it for others."""
        return min(self.capacity - 1, math.ceil(self.capacity * share)) if share > 0 else 0


class ConsumerPool:
    """Several consumers; a call goes to one that has a token."""

    def __init__(self, bucket: TokenBucket, consumers: Sequence[str]) -> None:
        if not consumers:
            raise ValueError("a consumer pool needs at least one consumer")
        self.bucket = bucket
        self.consumers = list(consumers)
        self._start = itertools.count()

    def acquire(self, group: str = "default", *, leave: int = 0) -> tuple[str | None, Decision]:
        """The first consumer (rotating) that admits; else None and the shortest wait."""
        offset = next(self._start) % len(self.consumers)
        best: Decision | None = None
        for consumer in self.consumers[offset:] + self.consumers[:offset]:
            decision = self.bucket.try_acquire(consumer, group, leave=leave)
            if decision.admitted:
                return consumer, decision
            if best is None or decision.wait < best.wait:
                best = decision
        assert best is not None
        return None, best

    def backoff(self, consumer: str, retry_after: float | None, group: str = "default") -> float:
        """After a 429: pause that consumer (Retry-After when sent, else from its own record)."""
        return self.bucket.pause(consumer, retry_after, group)
