"""200 pushes in 10 seconds against the default budget: the fake Bitbucket never says 429."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import redis

from shared.jobs.store import JobStore
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, push_of, relay

pytestmark = pytest.mark.integration

PUSHES = 200
RATE = 20.0


def test_two_hundred_pushes_never_exceed_bitbuckets_budget(redis_url: str, tmp_path: Path) -> None:
    rule = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
    with FakeBitbucket("cloud", budget_per_hour=1000) as fake:
        values = bitbucket_values(
            fake,
            rateLimit={"requestsPerHour": 1000, "burstSize": 50},
            pipelines={"enabled": True, "pollInterval": "1s"},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[rule],
        )
        with relay(redis_url, tmp_path, values, concurrency=2) as bbrelay:
            started = time.monotonic()
            for n in range(PUSHES):
                sha = hashlib.sha256(f"push-{n}".encode()).hexdigest()[:40]
                answer = bbrelay.deliver("cloud", "repo:push", push_of(sha), f"burst-{n}")
                assert answer.status_code == 202
                time.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
            jobs = JobStore(redis.Redis.from_url(redis_url))
            wait_until(lambda: len(jobs.recent(PUSHES + 10)) == PUSHES, timeout=60)
            elapsed = time.monotonic() - started
            time.sleep(2.0)
    api_calls = len(fake.requests_to("/2.0/*"))
    allowed = 50 + (1000 - 50) / 3600 * (elapsed + 2.0)
    assert fake.responses_with(429) == 0
    assert fake.budget.refused == 0
    assert 50 <= api_calls <= allowed + 1
    assert len(fake.triggered()) <= api_calls
