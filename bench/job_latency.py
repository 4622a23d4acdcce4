"""Latency from webhook accepted to the INPROGRESS status at Bitbucket, 200 pushes at 20/s.

Runs the real receiver (gunicorn) and two Celery worker processes against the fake Bitbucket
of the tests, with a bucket large enough not to throttle, and prints p50/p99/max of the time
between the receiver's 202 and the fake Bitbucket receiving the job's INPROGRESS status.

Usage: .venv/bin/python bench/job_latency.py [--pushes 200] [--rate 20] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.relay import bitbucket_values, push_of, relay

REPO = "nfalco79/test-repos"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    redis.Redis.from_url(args.redis_url).flushdb()
    rule = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
    with FakeBitbucket("cloud") as fake, tempfile.TemporaryDirectory() as tmp:
        values = bitbucket_values(
            fake,
            rateLimit={"requestsPerHour": 1_000_000, "burstSize": 100_000},
            pipelines={"enabled": True, "fallbackPoll": "30s", "pollInterval": "30s"},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[rule],
        )
        accepted: dict[str, float] = {}
        with relay(args.redis_url, Path(tmp), values, concurrency=2) as bbrelay:
            started = time.monotonic()
            for n in range(args.pushes):
                sha = hashlib.sha256(f"bench-{n}".encode()).hexdigest()[:40]
                answer = bbrelay.deliver("cloud", "repo:push", push_of(sha), f"bench-{n}")
                if answer.status_code == 202:
                    accepted[sha] = time.monotonic()
                time.sleep(max(0.0, started + (n + 1) / args.rate - time.monotonic()))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                posted = fake.requests_to("*/statuses/build", "POST")
                if len({r.path for r in posted}) >= len(accepted):
                    break
                time.sleep(0.2)
    first_status: dict[str, float] = {}
    for request in fake.requests_to("*/statuses/build", "POST"):
        sha = request.path.split("/commit/")[1].split("/")[0]
        if request.body.get("state") == "INPROGRESS":
            first_status.setdefault(sha, request.at)
    latencies = [
        1000 * (first_status[sha] - at) for sha, at in accepted.items() if sha in first_status
    ]
    print(
        f"{args.pushes} signed pushes at {args.rate:.0f}/s; "
        "receiver under gunicorn, 2 worker processes"
    )
    print(f"accepted {len(accepted)}, INPROGRESS statuses seen {len(latencies)}")
    if latencies:
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        print(
            f"accepted -> INPROGRESS: p50 {p50:.1f} ms (goal < 100), p99 {p99:.1f} ms (goal < 500),"
        )
        print(f"  mean {statistics.fmean(latencies):.1f} ms, max {max(latencies):.1f} ms")
    redis.Redis.from_url(args.redis_url).flushdb()


if __name__ == "__main__":
    main()
