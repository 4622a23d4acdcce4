"""A short budget goes to statuses first: a push gets its INPROGRESS status while a team sync
that has spent its share of the bucket waits for the refill on its own queue.

The bucket refills one token an hour, so whatever the sync does not leave (`reservedForJobs`)
is all there is: without the reserve the push would wait an hour."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.teams.store import TeamStore
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, push_of, relay

pytestmark = pytest.mark.integration

REPO = "nfalco79/test-repos"
RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}
BURST = 10
TEAMS: dict[str, Any] = {
    "auth": {"bitbucket": {"teamSync": {"enabled": True, "workspaceWhitelist": ["acme"]}}},
    "teams": {"bitbucket": {"syncInterval": "1h", "defaultRole": "viewer"}},
}


def test_a_push_gets_its_status_while_a_long_team_sync_waits_for_tokens(
    redis_url: str, tmp_path: Path
) -> None:
    sha = hashlib.sha256(b"priority").hexdigest()[:40]
    with FakeBitbucket("cloud") as fake:
        team_data.seed(fake, "acme", 3000, 4)
        values = bitbucket_values(
            fake,
            rateLimit={"requestsPerHour": BURST + 1, "burstSize": BURST, "reservedForJobs": 0.5},
            pipelines={"enabled": True, "fallbackPoll": "1h"},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[RULE],
        )
        with relay(
            redis_url, tmp_path, values, concurrency=2, more_global=TEAMS, with_beat=True
        ) as bbrelay:
            wait_until(lambda: len(_api_calls(fake)) >= BURST // 2)
            answer = bbrelay.deliver("cloud", "repo:push", push_of(sha), "push-during-sync")
            assert answer.status_code == 202
            wait_until(lambda: [s["state"] for s in fake.statuses(REPO, sha)] == ["INPROGRESS"])
            synced = TeamStore(redis.Redis.from_url(redis_url)).snapshot("acme")
    assert synced is None  # the sync was still waiting for tokens when the status was posted
    assert len(_api_calls(fake)) == BURST // 2 + 2  # the sync's share, the trigger, the status


def _api_calls(fake: FakeBitbucket) -> list[str]:
    return [r.path for r in fake.requests_to("*") if not r.path.endswith("/access_token")]
