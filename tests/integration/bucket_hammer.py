"""A process that takes tokens from a real-Redis bucket as fast as it can until a deadline."""

from __future__ import annotations

import time

import redis

from shared.ratelimit import ConsumerPool, TokenBucket


def hammer(
    redis_url: str, consumers: list[str], capacity: int, rate: float, start: float, stop: float
) -> int:
    """Admitted calls between `start` and `stop` (wall-clock times shared by all processes)."""
    client = redis.Redis.from_url(redis_url)
    pool = ConsumerPool(TokenBucket(client, capacity=capacity, refill_per_second=rate), consumers)
    while time.time() < start:
        time.sleep(0.001)
    admitted = 0
    while time.time() < stop:
        consumer, _ = pool.acquire("api")
        if consumer is not None:
            admitted += 1
    client.close()
    return admitted
