"""The token bucket on fakeredis with a controlled clock: it never admits beyond its bound."""

from __future__ import annotations

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config.settings import RateLimit
from shared.ratelimit import NO_RECORD_PAUSE, ConsumerPool, RateLimiterUnavailable, TokenBucket
from tests.rolling import busiest_window, greedy_admissions

T0 = 1_700_000_000.0


def _bucket(capacity: int = 5, rate: float = 10.0) -> TokenBucket:
    return TokenBucket(fakeredis.FakeRedis(), capacity=capacity, refill_per_second=rate)


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 20),
    rate=st.floats(0.1, 50.0),
    steps=st.lists(st.tuples(st.floats(0.0, 2.0), st.integers(1, 3)), min_size=1, max_size=80),
)
def test_never_admits_more_than_burst_plus_rate_times_elapsed(
    capacity: int, rate: float, steps: list[tuple[float, int]]
) -> None:
    bucket = _bucket(capacity, rate)
    now = T0
    admitted = 0
    for advance, tokens in steps:
        now += advance
        if bucket.try_acquire("c", tokens=tokens, now=now).admitted:
            admitted += tokens
        assert admitted <= capacity + rate * (now - T0) + 1e-6


@settings(max_examples=40, deadline=None)
@given(capacity=st.integers(1, 20), rate=st.floats(1.0, 50.0), calls=st.integers(1, 200))
def test_demand_below_the_rate_is_always_admitted(capacity: int, rate: float, calls: int) -> None:
    bucket = _bucket(capacity, rate)
    gap = 1.05 / rate
    for n in range(calls):
        assert bucket.try_acquire("c", now=T0 + n * gap).admitted


@settings(max_examples=40, deadline=None)
@given(capacity=st.integers(1, 10), rate=st.floats(0.5, 20.0), extra=st.integers(1, 5))
def test_the_wait_it_reports_is_enough(capacity: int, rate: float, extra: int) -> None:
    bucket = _bucket(capacity, rate)
    for _ in range(capacity):
        assert bucket.try_acquire("c", now=T0).admitted
    refused = bucket.try_acquire("c", tokens=min(extra, capacity), now=T0)
    assert not refused.admitted
    later = bucket.try_acquire("c", tokens=min(extra, capacity), now=T0 + refused.wait + 1e-5)
    assert later.admitted


def test_defaults_give_at_most_a_thousand_in_any_rolling_hour() -> None:
    bucket = TokenBucket.from_settings(fakeredis.FakeRedis(), RateLimit(1000, 50))
    admitted_at = greedy_admissions(bucket, T0, 2.5 * 3600)
    worst = busiest_window(admitted_at, 3600)
    assert 990 <= worst <= 1000


def test_buckets_of_different_consumers_and_groups_are_independent() -> None:
    bucket = _bucket(capacity=1, rate=0.001)
    assert bucket.try_acquire("a", now=T0).admitted
    assert bucket.try_acquire("b", now=T0).admitted
    assert bucket.try_acquire("a", "hooks", now=T0).admitted
    assert not bucket.try_acquire("a", now=T0).admitted


def test_a_pause_holds_every_token_until_it_ends() -> None:
    bucket = _bucket()
    assert bucket.pause("c", 30.0, now=T0) == 30.0
    refused = bucket.try_acquire("c", now=T0 + 10)
    assert not refused.admitted
    assert refused.wait == pytest.approx(20.0)
    assert bucket.try_acquire("c", now=T0 + 30.01).admitted


def test_a_429_without_retry_after_pauses_until_the_oldest_call_leaves_the_hour() -> None:
    bucket = _bucket(capacity=50, rate=1.0)
    for n in range(10):
        assert bucket.try_acquire("c", now=T0 + 600 + n).admitted
    pause = bucket.pause("c", None, now=T0 + 1800)
    oldest_minute_end = (int((T0 + 600) // 60) + 1) * 60
    assert pause == pytest.approx(oldest_minute_end + 3600 - (T0 + 1800), abs=1e-3)
    assert not bucket.try_acquire("c", now=T0 + 1800 + pause - 1).admitted
    assert bucket.try_acquire("c", now=T0 + 1800 + pause + 0.01).admitted


def test_a_429_with_no_call_of_ours_in_the_hour_pauses_the_fallback() -> None:
    pool = ConsumerPool(_bucket(), ["c"])
    assert pool.backoff("c", None) == NO_RECORD_PAUSE
    assert pool.backoff("c", 7.0) == 7.0


def test_an_announced_limit_replaces_the_assumed_one() -> None:
    bucket = TokenBucket.from_settings(fakeredis.FakeRedis(), RateLimit())
    bucket.announce("consumer-a", "api", 2_500, near=False)  # a workspace of 250 paid seats
    admitted_at = greedy_admissions(bucket, T0, 1.5 * 3600)
    assert 2_450 <= busiest_window(admitted_at, 3600) <= 2_500
    assert bucket.per_hour("consumer-a", "api") == 2_500


def test_an_operators_requests_per_hour_is_never_exceeded() -> None:
    limit = RateLimit(requests_per_hour=800, burst_size=50, ceiling=800)
    bucket = TokenBucket.from_settings(fakeredis.FakeRedis(), limit)
    bucket.announce("consumer-a", "api", 10_000, near=False)
    admitted_at = greedy_admissions(bucket, T0, 1.5 * 3600)
    assert busiest_window(admitted_at, 3600) <= 800
    assert bucket.per_hour("consumer-a", "api") == 800


def test_near_the_limit_the_refill_halves() -> None:
    bucket = _bucket(capacity=1, rate=1.0)
    bucket.announce("c", "default", None, near=True)
    assert bucket.try_acquire("c", now=T0).admitted
    assert bucket.try_acquire("c", now=T0).wait == pytest.approx(2.0)


def test_background_calls_leave_the_reserved_share_to_jobs() -> None:
    bucket = _bucket(capacity=10, rate=0.001)
    leave = bucket.reserve(0.5)
    background = [bucket.try_acquire("c", leave=leave, now=T0).admitted for _ in range(10)]
    assert background.count(True) == 5
    assert all(bucket.try_acquire("c", now=T0).admitted for _ in range(5))


def test_the_pool_goes_to_a_consumer_with_tokens_and_else_reports_the_shortest_wait() -> None:
    bucket = _bucket(capacity=1, rate=1.0)
    pool = ConsumerPool(bucket, ["a", "b"])
    bucket.pause("a", 100.0)
    first, _ = pool.acquire()
    assert first == "b"
    nobody, decision = pool.acquire()
    assert nobody is None
    assert 0 < decision.wait <= 1.0


def test_peek_takes_nothing() -> None:
    bucket = _bucket(capacity=3)
    assert bucket.peek("c") == pytest.approx(3.0)
    assert bucket.peek("c") == pytest.approx(3.0, abs=0.01)
    bucket.try_acquire("c")
    assert bucket.peek("c") == pytest.approx(2.0, abs=0.01)


def test_redis_unreachable_fails_closed() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    bucket = TokenBucket(fakeredis.FakeRedis(server=server), capacity=5, refill_per_second=1.0)
    with pytest.raises(RateLimiterUnavailable):
        bucket.try_acquire("c")
