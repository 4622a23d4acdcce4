"""End to end: signed webhooks → receiver → Redis → worker → fake Bitbucket and platform."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shared.bitbucket.client import JOB_ID_VARIABLE
from shared.jobs.planning import job_id
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.platform import FakePlatform
from tests.integration.processes import free_port, wait_until
from tests.integration.relay import bitbucket_values, fixture, relay

pytestmark = pytest.mark.integration

CLOUD_REPO = "nfalco79/test-repos"
CLOUD_SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
DC_REPO = "PRJ/my-repo"
DC_OPENED_SHA = "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e"
DC_UPDATED_SHA = "c00d0f269a9844dd168f72f6a9d78a9cff49a318"
PUSH = "repo-push-signed.json"

PIPELINE_RULE = {
    "name": "data-processing",
    "on": ["push"],
    "branches": ["feature/*"],
    "context": "dataProcessing",
    "runner": "pipeline",
    "pipeline": {
        "selector": {"type": "custom", "pattern": "data-processing"},
        "variables": {"DATACHAIN_TRIGGER": "git_push"},
        "secured": ["DATACHAIN_WEBHOOK_SECRET"],
    },
}
BUILD_STATUS = {
    "contexts": {
        "dataProcessing": "datachain/processing",
        "dataValidation": "datachain/validation",
    },
    "url": "https://studio.example.com/jobs/{job_id}",
    "description": "DataChain job",
}


@pytest.fixture
def cloud() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as fake:
        fake.pipeline_gets_to_finish = 2
        yield fake


@pytest.fixture
def server() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("server") as fake:
        yield fake


def _cloud_values(fake: FakeBitbucket, **extra: Any) -> dict[str, Any]:
    return bitbucket_values(
        fake,
        pipelines={
            "enabled": True,
            "fallbackPoll": "200ms",
            "pollInterval": "200ms",
            "customVariables": {"DATACHAIN_WEBHOOK_SECRET": "hush", "STUDIO": "https://s.example"},
        },
        buildStatus=BUILD_STATUS,
        jobs=[PIPELINE_RULE],
        **extra,
    )


def _http_values(
    fake: FakeBitbucket, platform: FakePlatform, timeout: str = "1h"
) -> dict[str, Any]:
    rule = {
        "name": "pr-validation",
        "on": ["pr_opened", "pr_updated"],
        "context": "dataValidation",
        "runner": "http",
        "http": {"url": platform.url, "secret": "platform-secret", "timeout": timeout},
    }
    events = ["pr:opened", "pr:from_ref_updated", "repo:refs_changed"]
    return bitbucket_values(
        fake, buildStatus=BUILD_STATUS, jobs=[rule], webhooks={"events": events}
    )


def _states(fake: FakeBitbucket, repo: str, sha: str) -> list[str]:
    return [status["state"] for status in fake.statuses(repo, sha)]


def _settled(fake: FakeBitbucket, repo: str, sha: str, final: str) -> None:
    wait_until(lambda: _states(fake, repo, sha)[-1:] == [final], timeout=30)
    time.sleep(0.6)


def test_a_cloud_push_runs_one_pipeline_and_shows_its_progress(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    with relay(redis_url, tmp_path, _cloud_values(cloud)) as bbrelay:
        body = fixture("cloud", PUSH)
        assert bbrelay.deliver("cloud", "repo:push", body, "push-1").status_code == 202
        assert bbrelay.deliver("cloud", "repo:push", body, "push-1").status_code == 200
        replay = fixture("cloud", PUSH, relay_replay="yes")
        assert bbrelay.deliver("cloud", "repo:push", replay, "push-2").status_code == 202
        _settled(cloud, CLOUD_REPO, CLOUD_SHA, "SUCCESSFUL")
        expected_id = job_id("data-processing", CLOUD_REPO, CLOUD_SHA)
        job = bbrelay.api("GET", f"/api/jobs/{expected_id}").json()

    assert _states(cloud, CLOUD_REPO, CLOUD_SHA) == ["INPROGRESS", "SUCCESSFUL"]
    [run] = cloud.triggered()
    target = run.body["target"]
    assert (target["ref_name"], target["commit"]["hash"]) == ("feature/webhook", CLOUD_SHA)
    assert target["selector"] == {"type": "custom", "pattern": "data-processing"}
    variables = {v["key"]: (v["value"], v["secured"]) for v in run.body["variables"]}
    assert variables == {
        "DATACHAIN_TRIGGER": ("git_push", False),
        "DATACHAIN_WEBHOOK_SECRET": ("hush", True),
        "STUDIO": ("https://s.example", False),
        JOB_ID_VARIABLE: (expected_id, False),
    }
    status = cloud.statuses(CLOUD_REPO, CLOUD_SHA)[-1]
    assert status["key"] == "datachain/processing"
    assert status["url"] == f"https://studio.example.com/jobs/{expected_id}"
    assert (job["state"], job["external_id"], job["status_posted"]) == (
        "SUCCESSFUL",
        run.uuid,
        "SUCCESSFUL",
    )


def test_a_dc_pull_request_goes_to_the_platform_which_reports_back(
    server: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    with (
        FakePlatform() as platform,
        relay(redis_url, tmp_path, _http_values(server, platform)) as bbrelay,
    ):
        opened = fixture("server", "pr-opened.json")
        assert bbrelay.deliver("server", "pr:opened", opened, "dc-1").status_code == 202
        wait_until(lambda: _states(server, DC_REPO, DC_OPENED_SHA) == ["INPROGRESS"])
        [received] = platform.received()
        document = received.document
        assert received.signed_by("platform-secret")
        assert (document["repository"], document["commit"], document["event"]) == (
            DC_REPO,
            DC_OPENED_SHA,
            "pr:opened",
        )
        status_url = urlsplit(document["status_url"])
        assert status_url.path == f"/api/jobs/{document['job_id']}/status"

        again = fixture("server", "pr-opened.json", relay_replay="yes")
        assert bbrelay.deliver("server", "pr:opened", again, "dc-2").status_code == 202
        report = {"state": "SUCCESSFUL", "description": "validated 12 datasets"}
        path = f"/api/jobs/{document['job_id']}/status"
        assert bbrelay.api("POST", path, json=report).status_code == 401
        answer = httpx.post(f"{bbrelay.url}{path}?{status_url.query}", json=report, timeout=10)
        assert answer.status_code == 200
        _settled(server, DC_REPO, DC_OPENED_SHA, "SUCCESSFUL")

        updated = fixture("server", "pr-from_ref_updated.json")
        assert bbrelay.deliver("server", "pr:from_ref_updated", updated, "dc-3").status_code == 202
        wait_until(lambda: _states(server, DC_REPO, DC_UPDATED_SHA) == ["INPROGRESS"])

    assert len(platform.received()) == 2
    assert _states(server, DC_REPO, DC_OPENED_SHA) == ["INPROGRESS", "SUCCESSFUL"]
    final = server.statuses(DC_REPO, DC_OPENED_SHA)[-1]
    assert final["key"] == "datachain/validation"
    assert final["description"] == "validated 12 datasets"
    assert final["ref"] == "refs/heads/develop"


def test_a_failed_pipeline_shows_failed(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    cloud.pipeline_result = "FAILED"
    with relay(redis_url, tmp_path, _cloud_values(cloud)) as bbrelay:
        bbrelay.deliver("cloud", "repo:push", fixture("cloud", PUSH), "push-f")
        _settled(cloud, CLOUD_REPO, CLOUD_SHA, "FAILED")
    assert _states(cloud, CLOUD_REPO, CLOUD_SHA) == ["INPROGRESS", "FAILED"]


def test_bitbucket_answering_500_twice_still_posts_each_status_once(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    cloud.fail_next(2, status=500, path="*/statuses/build")
    with relay(redis_url, tmp_path, _cloud_values(cloud)) as bbrelay:
        bbrelay.deliver("cloud", "repo:push", fixture("cloud", PUSH), "push-500")
        _settled(cloud, CLOUD_REPO, CLOUD_SHA, "SUCCESSFUL")
    posts = cloud.requests_to("*/statuses/build", "POST")
    assert [r.status for r in posts] == [500, 500, 201, 201]
    assert _states(cloud, CLOUD_REPO, CLOUD_SHA) == ["INPROGRESS", "SUCCESSFUL"]
    assert len(cloud.triggered()) == 1


def test_a_later_status_waits_for_the_one_in_flight_and_none_is_posted_twice(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    cloud.pipeline_gets_to_finish = 1
    cloud.delay(1.5, path="*/statuses/build", n=1)
    with relay(redis_url, tmp_path, _cloud_values(cloud), concurrency=2) as bbrelay:
        bbrelay.deliver("cloud", "repo:push", fixture("cloud", PUSH), "push-late")
        wait_until(lambda: "INPROGRESS" in _states(cloud, CLOUD_REPO, CLOUD_SHA), timeout=30)
        _settled(cloud, CLOUD_REPO, CLOUD_SHA, "SUCCESSFUL")
    assert _states(cloud, CLOUD_REPO, CLOUD_SHA) == ["INPROGRESS", "SUCCESSFUL"]


def test_a_platform_that_never_reports_back_ends_stopped(
    server: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    with (
        FakePlatform() as platform,
        relay(redis_url, tmp_path, _http_values(server, platform, timeout="1s")) as bbrelay,
    ):
        bbrelay.deliver("server", "pr:opened", fixture("server", "pr-opened.json"), "dc-quiet")
        _settled(server, DC_REPO, DC_OPENED_SHA, "CANCELLED")
        job = bbrelay.api("GET", f"/api/jobs/{platform.received()[0].document['job_id']}").json()
    assert _states(server, DC_REPO, DC_OPENED_SHA) == ["INPROGRESS", "CANCELLED"]
    assert job["state"] == "STOPPED"
    assert "timeout" in job["description"]


def test_worker_metrics_show_the_bitbucket_calls_it_made(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "BBRELAY_WORKER_METRICS_PORT": str(port)}
    with relay(redis_url, tmp_path, _cloud_values(cloud), env=env) as bbrelay:
        bbrelay.deliver("cloud", "repo:push", fixture("cloud", PUSH), "metrics-1")
        _settled(cloud, CLOUD_REPO, CLOUD_SHA, "SUCCESSFUL")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        receiver_text = httpx.get(f"{bbrelay.url}/metrics", timeout=5).text
    consumer = 'consumer="oauth:client-1"'
    assert f'_requests_total{{{consumer},group="pipelines",status="201"}} 1.0' in text
    assert f'_requests_total{{{consumer},group="statuses",status="201"}} 2.0' in text
    assert 'bbrelay_build_statuses_posted_total{state="SUCCESSFUL"} 1.0' in text
    assert "bbrelay_bucket_tokens" in text
    assert 'bbrelay_webhook_deliveries_total{outcome="accepted"} 1.0' in receiver_text
    assert 'bbrelay_queue_depth{queue="bbrelay"} 0.0' in receiver_text
    assert 'bbrelay_recent_deliveries{state="processed"} 1.0' in receiver_text
    assert 'bbrelay_recent_jobs{state="SUCCESSFUL"} 1.0' in receiver_text
