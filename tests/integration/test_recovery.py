"""The recovery sweep on real processes: the states a crash leaves are repaired exactly once.

Each test leaves Redis as a process killed at the worst moment would (the receiver after its
claim, a worker after its trigger POST, a worker before scheduling its poll), using the relay's
own stores and client, then lets a real worker's sweep repair it against the fake Bitbucket.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.config import load_settings
from shared.jobs.model import JobRequest
from shared.jobs.planning import plan_jobs
from shared.payloads import parse_event
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import wait_until
from tests.integration.relay import API_TOKEN, Relay, bitbucket_values, push_of, relay
from workers.runners import pipeline as pipeline_runner
from workers.services import Services, build_services

pytestmark = pytest.mark.integration

REPO = "nfalco79/test-repos"
PIPELINE_RULE = {
    "name": "data-processing",
    "on": ["push"],
    "branches": ["feature/*"],
    "context": "dataProcessing",
    "runner": "pipeline",
}
RECOVERY = {"deliveryDeadline": "1s", "startDeadline": "2s", "sweepInterval": "1s"}


@pytest.fixture
def cloud() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as fake:
        fake.pipeline_gets_to_finish = 2
        yield fake


def _values(fake: FakeBitbucket) -> dict[str, Any]:
    return bitbucket_values(
        fake,
        pipelines={"enabled": True, "fallbackPoll": "200ms", "pollInterval": "200ms"},
        buildStatus={"contexts": {"dataProcessing": "datachain/processing"}},
        jobs=[PIPELINE_RULE],
    )


def _relay(redis_url: str, tmp: Path, fake: FakeBitbucket) -> Any:
    more = {"relay": {"apiTokens": [API_TOKEN], "recovery": RECOVERY}}
    return relay(redis_url, tmp, _values(fake), more_global=more)


def _services(bbrelay: Relay, tmp: Path) -> Services:
    """The relay's own stores and client, as the killed process had them."""
    return build_services(load_settings(tmp / "values.yaml", environ=bbrelay.env))


def _push(sha: str) -> tuple[bytes, dict[str, str]]:
    delivery_id = str(uuid.uuid4())
    headers = {"X-Event-Key": "repo:push", "X-Request-UUID": delivery_id}
    return push_of(sha), headers


def _job_for(services: Services, sha: str) -> JobRequest:
    body, headers = _push(sha)
    event = parse_event(headers, body, received_at=time.time(), delivery_id=str(uuid.uuid4()))
    [request] = plan_jobs(event, services.settings.bitbucket)
    return request


def _runs_for(fake: FakeBitbucket, sha: str) -> int:
    return sum(1 for run in fake.triggered() if run.commit == sha)


def _job_state(services: Services, job_id: str) -> str | None:
    job = services.jobs.get(job_id)
    return job.state if job else None


def test_a_delivery_claimed_by_a_receiver_that_died_before_publishing_is_processed_once(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    sha = "1" * 40
    with _relay(redis_url, tmp_path, cloud) as bbrelay:
        services = _services(bbrelay, tmp_path)
        body, headers = _push(sha)
        delivery_id = headers["X-Request-UUID"]
        fields = {
            "event_key": "repo:push",
            "product": "cloud",
            "repository": REPO,
            "received_at": f"{time.time():.6f}",
            "task_id": str(uuid.uuid4()),
        }
        claim = services.deliveries.claim(
            delivery_id, hashlib.sha256(body).hexdigest(), body, fields
        )
        assert claim.is_new
        again = bbrelay.deliver("cloud", "repo:push", body, delivery_id)
        assert again.json()["status"] == "duplicate"

        def processed() -> bool:
            record = services.deliveries.get(delivery_id)
            return record is not None and record["status"] == "processed"

        wait_until(processed, log=bbrelay.worker_log)
        record = services.deliveries.get(delivery_id)
        assert record is not None and record["recoveries"] == 1
        wait_until(lambda: _job_state(services, _job_for(services, sha).job_id) == "SUCCESSFUL")
    assert _runs_for(cloud, sha) == 1


def test_a_start_left_after_the_trigger_takes_up_that_run_instead_of_starting_another(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    sha = "2" * 40
    with _relay(redis_url, tmp_path, cloud) as bbrelay:
        services = _services(bbrelay, tmp_path)
        request = _job_for(services, sha)
        assert services.jobs.create(request)
        assert services.jobs.claim_start(request.job_id, owner="killed-worker")
        run = pipeline_runner.start(services.bitbucket, request, None, services.settings.bitbucket)
        wait_until(lambda: _job_state(services, request.job_id) == "SUCCESSFUL")
        job = services.jobs.get(request.job_id)
    assert job is not None and job.external_id == run.uuid
    assert _runs_for(cloud, sha) == 1
    assert [s["state"] for s in cloud.statuses(REPO, sha)] == ["INPROGRESS", "SUCCESSFUL"]


def test_a_start_left_before_the_trigger_is_started_once_after_its_deadline(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    sha = "3" * 40
    with _relay(redis_url, tmp_path, cloud) as bbrelay:
        services = _services(bbrelay, tmp_path)
        request = _job_for(services, sha)
        assert services.jobs.create(request)
        assert services.jobs.claim_start(request.job_id, owner="killed-worker")
        wait_until(lambda: _job_state(services, request.job_id) == "SUCCESSFUL")
    assert _runs_for(cloud, sha) == 1


def test_a_running_job_whose_poll_was_never_scheduled_gets_it_back(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    sha = "4" * 40
    with _relay(redis_url, tmp_path, cloud) as bbrelay:
        services = _services(bbrelay, tmp_path)
        request = _job_for(services, sha)
        assert services.jobs.create(request)
        assert services.jobs.claim_start(request.job_id, owner="killed-worker")
        run = pipeline_runner.start(services.bitbucket, request, None, services.settings.bitbucket)
        assert services.jobs.finish_start(request.job_id, "killed-worker", external_id=run.uuid)
        wait_until(lambda: _job_state(services, request.job_id) == "SUCCESSFUL")
    assert _runs_for(cloud, sha) == 1
    assert [s["state"] for s in cloud.statuses(REPO, sha)][-1:] == ["SUCCESSFUL"]


def test_a_dead_job_is_listed_and_replay_carries_it_on_to_one_run(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    sha = "5" * 40
    with _relay(redis_url, tmp_path, cloud) as bbrelay:
        services = _services(bbrelay, tmp_path)
        request = _job_for(services, sha)
        assert services.jobs.create(request)
        services.jobs.mark_dead(request.job_id, "RetryableError: Bitbucket answered 503")
        listed = bbrelay.bbrelay("jobs", "--dead")
        assert request.job_id in listed.stdout
        assert "dead letter: RetryableError: Bitbucket answered 503" in listed.stdout
        time.sleep(3)  # past the start deadline: a dead job is left alone by the sweep
        assert _job_state(services, request.job_id) == "PENDING"
        replayed = bbrelay.bbrelay("replay", "--job", request.job_id)
        assert replayed.returncode == 0, replayed.stderr
        wait_until(lambda: _job_state(services, request.job_id) == "SUCCESSFUL")
        assert "no dead jobs" in bbrelay.bbrelay("jobs", "--dead").stdout
    assert _runs_for(cloud, sha) == 1
