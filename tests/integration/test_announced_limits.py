"""The bucket learns the hour's limit Bitbucket Cloud announces to an access token (a configured
requestsPerHour capping it is tested in tests/unit/test_bitbucket_client.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from shared.bitbucket.auth import consumer_identity
from shared.bitbucket.transport import BUCKET_GROUP
from shared.ratelimit import TokenBucket
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import WEBHOOK_SECRET, fixture, relay

pytestmark = pytest.mark.integration

REPO = "nfalco79/test-repos"
SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}


def test_a_scaled_limit_replaces_the_assumed_requests_per_hour(
    redis_url: str, tmp_path: Path
) -> None:
    with FakeBitbucket("cloud", budget_per_hour=2500, tokens={"access-token"}) as fake:
        values = {
            "type": "cloud",
            "webhookSecret": WEBHOOK_SECRET,
            "apiUrl": fake.api_url,
            "token": "access-token",
            "pipelines": {"enabled": True, "fallbackPoll": "1h"},
            "buildStatus": {"contexts": {"ci": "relay/ci"}},
            "jobs": [RULE],
        }
        with relay(redis_url, tmp_path, values) as bbrelay:
            push = fixture("cloud", "repo-push-signed.json")
            assert bbrelay.deliver("cloud", "repo:push", push, "push-1").status_code == 202
            wait_until(lambda: [s["state"] for s in fake.statuses(REPO, SHA)] == ["INPROGRESS"])
    bucket = TokenBucket(redis.Redis.from_url(redis_url), capacity=50, refill_per_second=0.25)
    assert bucket.per_hour(consumer_identity("token", "access-token"), BUCKET_GROUP) == 2500
