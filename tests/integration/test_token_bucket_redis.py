"""The token bucket on a real Redis under real concurrency: eight processes, one budget."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest
import redis

from shared.config.settings import RateLimit
from shared.ratelimit import TokenBucket
from tests.integration.bucket_hammer import hammer
from tests.rolling import busiest_window, greedy_admissions

pytestmark = pytest.mark.integration

PROCESSES = 8
CAPACITY = 50
ATTEMPTS = 40  # per process: 320 asks in all, far more than the tokens there are


def _hammer_all(redis_url: str, consumers: list[str]) -> int:
    with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()
        start = time.time() + 1.5
        futures = [
            pool.submit(hammer, redis_url, consumers, CAPACITY, start, ATTEMPTS)
            for _ in range(PROCESSES)
        ]
        return sum(future.result() for future in futures)


def test_eight_processes_share_one_consumer_budget(redis_url: str) -> None:
    assert _hammer_all(redis_url, ["consumer-a"]) == CAPACITY


def test_a_pool_of_two_consumers_admits_twice(redis_url: str) -> None:
    assert _hammer_all(redis_url, ["consumer-a", "consumer-b"]) == 2 * CAPACITY


def test_no_simulated_rolling_hour_exceeds_the_defaults(redis_url: str) -> None:
    bucket = TokenBucket.from_settings(redis.Redis.from_url(redis_url), RateLimit(1000, 50))
    admitted_at = greedy_admissions(bucket, 1_800_000_000.0, 2.5 * 3600)
    worst = busiest_window(admitted_at, 3600)
    assert 990 <= worst <= 1000
