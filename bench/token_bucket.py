"""Token bucket cost and correctness on one Redis: decisions per second and overshoot.

Prints, in one run against the same Redis:
- bucket decisions per second beside a raw EVALSHA of `return 1` (one process, sequential round
  trips, then 8 processes; median of three rounds each), and their ratio (goal >= 0.8);
- the overshoot with 8 processes hammering one consumer: admitted minus what the bucket allows
  (burst + rate x elapsed, elapsed on Redis's clock), for a slow and a fast refill (goal 0).

Usage: .venv/bin/python bench/token_bucket.py [--redis-url URL] [--seconds S]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import redis

from shared.ratelimit import TokenBucket

PROCESSES = 8
PREFIX = "bbrelay-bench:bucket"


def _redis_now(client: redis.Redis[bytes]) -> float:
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1e6


def decisions(redis_url: str, kind: str, seconds: float, consumer: str) -> int:
    """Calls completed in `seconds`: bucket decisions or trivial EVALSHAs."""
    client = redis.Redis.from_url(redis_url)
    bucket = TokenBucket(client, capacity=10**9, refill_per_second=10**6, prefix=PREFIX)
    trivial = client.register_script("return 1")
    call = (lambda: bucket.try_acquire(consumer)) if kind == "bucket" else (lambda: trivial())
    call()
    done = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        call()
        done += 1
    return done


def hammer(redis_url: str, capacity: int, rate: float, start: float, stop: float) -> int:
    """Tokens taken from one consumer between two wall-clock instants."""
    client = redis.Redis.from_url(redis_url)
    bucket = TokenBucket(client, capacity=capacity, refill_per_second=rate, prefix=PREFIX)
    while time.time() < start:
        time.sleep(0.0005)
    admitted = 0
    while time.time() < stop:
        if bucket.try_acquire("overshoot").admitted:
            admitted += 1
    return admitted


def _throughput(pool: ProcessPoolExecutor, url: str, kind: str, seconds: float, n: int) -> float:
    futures = [pool.submit(decisions, url, kind, seconds, f"c{i}") for i in range(n)]
    return sum(f.result() for f in futures) / seconds


def _median_of_rounds(
    pool: ProcessPoolExecutor, url: str, kind: str, seconds: float, n: int
) -> float:
    """Median of three short rounds: a shared 2-core machine is noisy."""
    rounds = sorted(_throughput(pool, url, kind, seconds / 3, n) for _ in range(3))
    return rounds[1]


def _overshoot(
    pool: ProcessPoolExecutor, url: str, capacity: int, rate: float, seconds: float
) -> tuple[int, float]:
    client = redis.Redis.from_url(url)
    client.delete(f"{PREFIX}:overshoot:default")
    start = time.time() + 1.0
    futures = [
        pool.submit(hammer, url, capacity, rate, start, start + seconds) for _ in range(PROCESSES)
    ]
    time.sleep(max(0.0, start - time.time()))
    began = _redis_now(client)
    admitted = sum(f.result() for f in futures)
    elapsed = _redis_now(client) - began
    return admitted, capacity + rate * elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    url, seconds = args.redis_url, args.seconds
    client = redis.Redis.from_url(url)
    info = client.info("server")
    print(f"Redis {info['redis_version']} at {url}; {PROCESSES} processes where parallel")
    with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
        list(pool.map(time.sleep, [0.0] * PROCESSES))
        print(f"\n{'calls per second':<32}{'1 process':>12}{'8 processes':>14}")
        rows = {}
        for kind in ("evalsha", "bucket"):
            rows[kind] = (
                _median_of_rounds(pool, url, kind, seconds, 1),
                _median_of_rounds(pool, url, kind, seconds, PROCESSES),
            )
            label = "raw EVALSHA 'return 1'" if kind == "evalsha" else "bucket decision"
            print(f"{label:<32}{rows[kind][0]:>12,.0f}{rows[kind][1]:>14,.0f}")
        ratios = [rows["bucket"][i] / rows["evalsha"][i] for i in (0, 1)]
        print(f"{'ratio (goal >= 0.8)':<32}{ratios[0]:>12.2f}{ratios[1]:>14.2f}")
        print(f"\novershoot, {PROCESSES} processes on one consumer for {seconds:.0f}s")
        for capacity, rate in ((5, 10.0), (50, 1000.0)):
            admitted, allowed = _overshoot(pool, url, capacity, rate, seconds)
            overshoot = max(0, admitted - int(allowed))
            print(
                f"  burst {capacity:>3}, refill {rate:>6.0f}/s: admitted {admitted:>6}, "
                f"allowed {allowed:>9.1f}, overshoot {overshoot} (goal 0)"
            )
    for key in client.scan_iter(f"{PREFIX}:*"):
        client.delete(key)


if __name__ == "__main__":
    main()
