"""A process that asks a real-Redis bucket for tokens a fixed number of times, all at once."""

from __future__ import annotations

import time

import redis

from shared.ratelimit import ConsumerPool, TokenBucket


def hammer(redis_url: str, consumers: list[str], capacity: int, start: float, attempts: int) -> int:
    """Admitted calls of `attempts` made from `start` (a wall-clock time shared by all processes)
    on buckets that never refill, so the total admitted depends on counts, not on speed."""
    client = redis.Redis.from_url(redis_url)
    pool = ConsumerPool(TokenBucket(client, capacity=capacity, refill_per_second=0.0), consumers)
    while time.time() < start:
        time.sleep(0.001)
    admitted = sum(1 for _ in range(attempts) if pool.acquire("api")[0] is not None)
    client.close()
    return admitted
