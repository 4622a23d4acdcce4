"""A pipeline job is finished by the commit status Pipelines posts, not by polling the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from shared.followups import FollowUps, member_for
from shared.jobs.planning import job_id as job_id_for
from shared.task_names import FOLLOW_PIPELINE
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.pipeline_statuses import StatusWebhooks
from tests.integration.processes import wait_until
from tests.integration.relay import WEBHOOK_SECRET, bitbucket_values, fixture, relay

pytestmark = pytest.mark.integration

REPO = "nfalco79/test-repos"
SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
RULE = {"name": "build", "on": ["push"], "context": "ci", "runner": "pipeline"}


def _states(fake: FakeBitbucket) -> list[str]:
    return [status["state"] for status in fake.statuses(REPO, SHA)]


def test_a_pipeline_job_ends_on_pipelines_own_status_without_a_poll(
    redis_url: str, tmp_path: Path
) -> None:
    with FakeBitbucket("cloud") as fake:
        values = bitbucket_values(
            fake,
            pipelines={"enabled": True, "fallbackPoll": "1h"},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[RULE],
        )
        with relay(redis_url, tmp_path, values) as bbrelay:
            fake.status_webhooks = StatusWebhooks(
                f"{bbrelay.url}/api/webhooks/bitbucket", WEBHOOK_SECRET
            )
            push = fixture("cloud", "repo-push-signed.json")
            assert bbrelay.deliver("cloud", "repo:push", push, "push-1").status_code == 202
            wait_until(lambda: _states(fake) == ["INPROGRESS"], timeout=30)
            [run] = fake.triggered()
            fake.finish_pipeline(run.uuid, "FAILED")
            wait_until(lambda: _states(fake) == ["INPROGRESS", "FAILED"], timeout=30)
    calls = [r for r in fake.requests_to("/2.0/*") if not r.path.endswith("/access_token")]
    assert fake.requests_to(f"*/pipelines/{run.uuid}", "GET") == []
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in calls] == [
        ("POST", ""),
        ("POST", "build"),
        ("POST", "build"),
    ]


def test_a_run_longer_than_the_fallback_look_costs_four_calls_when_its_webhooks_come(
    redis_url: str, tmp_path: Path
) -> None:
    with FakeBitbucket("cloud") as fake:
        values = bitbucket_values(
            fake,
            pipelines={"enabled": True, "fallbackPoll": "8s", "pollInterval": "1s"},
            buildStatus={"contexts": {"ci": "relay/ci"}},
            jobs=[RULE],
        )
        fake.pipeline_gets_to_finish = 1000  # the run ends only when the test says
        with relay(redis_url, tmp_path, values) as bbrelay:
            fake.status_webhooks = StatusWebhooks(
                f"{bbrelay.url}/api/webhooks/bitbucket", WEBHOOK_SECRET
            )
            push = fixture("cloud", "repo-push-signed.json")
            assert bbrelay.deliver("cloud", "repo:push", push, "push-1").status_code == 202
            wait_until(lambda: _states(fake) == ["INPROGRESS"], timeout=30)
            [run] = fake.triggered()
            wait_until(
                lambda: len(fake.requests_to(f"*/pipelines/{run.uuid}", "GET")) == 1, timeout=60
            )
            follow_ups = FollowUps(redis.Redis.from_url(redis_url))
            member = member_for(FOLLOW_PIPELINE, job_id_for(RULE["name"], REPO, SHA))
            # its INPROGRESS webhook came: no look until maxFollow (24h), not at pollInterval
            wait_until(lambda: (follow_ups.due_at(member) or 0) > time.time() + 3600, timeout=30)
            fake.finish_pipeline(run.uuid, "SUCCESSFUL")
            wait_until(lambda: _states(fake) == ["INPROGRESS", "SUCCESSFUL"], timeout=30)
    calls = [r for r in fake.requests_to("/2.0/*") if not r.path.endswith("/access_token")]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in calls] == [
        ("POST", ""),
        ("POST", "build"),
        ("GET", run.uuid),
        ("POST", "build"),
    ]
