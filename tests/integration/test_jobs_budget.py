"""200 pushes in 10 seconds against the default budget: the fake Bitbucket never says 429.

The fake counts requests in a sliding window of WINDOW seconds and refuses past what our bucket
may spend in one (the burst, the refill over the window, and room for requests arriving a little
closer together than they were admitted), so the bound holds whatever the machine's speed.
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import pytest
import redis

from shared.jobs.store import JobStore
from tests.conftest import SEALER
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, push_of, relay

pytestmark = pytest.mark.integration

PUSHES = 200
RATE = 20.0
WINDOW = 10.0
BURST = 50
WINDOW_LIMIT = BURST + math.ceil((1000 - BURST) / 3600 * WINDOW) + 2


def test_two_hundred_pushes_never_exceed_bitbuckets_budget(redis_url: str, tmp_path: Path) -> None:
    rule = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
    with FakeBitbucket("cloud", budget_per_hour=WINDOW_LIMIT, budget_window=WINDOW) as fake:
        values = bitbucket_values(
            fake,
            rateLimit={"requestsPerHour": 1000, "burstSize": BURST},
            pipelines={"enabled": True, "fallbackPoll": "1s", "pollInterval": "1s"},
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
            jobs = JobStore(redis.Redis.from_url(redis_url), SEALER)
            wait_until(lambda: len(jobs.recent(PUSHES + 10)) == PUSHES, timeout=60)
            wait_until(lambda: len(fake.requests_to("/2.0/*")) >= BURST, timeout=60)
    assert fake.responses_with(429) == 0
    assert fake.budget.refused == 0
    assert len(fake.triggered()) <= len(fake.requests_to("/2.0/*"))
