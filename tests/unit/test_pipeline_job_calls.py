"""A pipeline job's Bitbucket calls: each status posted once, and no look while webhooks flow."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest

from shared.bitbucket.errors import BitbucketUnavailable
from shared.bitbucket.factory import build_client
from shared.config.settings import JobRule, PipelinesSettings
from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.followups import FollowUps
from shared.jobs.model import JobRequest
from shared.jobs.planning import job_id as job_id_for
from shared.jobs.store import JobStore
from shared.secret import Secret
from shared.task_names import FOLLOW_PIPELINE
from shared.teams.store import TeamStore
from tests.conftest import SEALER, make_settings
from tests.unit.test_events import parse_fixture
from workers import job_flow
from workers.services import Services

REPO = "acme/data"
COMMIT = "d7f300a32270053bdfd97a6d64113f58202c33e7"
RULE = JobRule("build", ("push",), "ci", "pipeline")
PIPELINES = PipelinesSettings(
    enabled=True, fallback_poll=600.0, poll_interval=15.0, max_follow=86400.0
)


class Bitbucket:
    """A fake Cloud: records each build status state posted; the run reads as in progress."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.reads = 0
        self.on_post: Callable[[], None] = lambda: None
        self.fail_next_post = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.reads += 1
            run = {"uuid": "{p-7}", "build_number": 7, "state": {"name": "IN_PROGRESS"}}
            return httpx.Response(200, json=run)
        if self.fail_next_post:
            self.fail_next_post = False
            return httpx.Response(503, json={"error": {"message": "down"}})
        self.posted.append(json.loads(request.content)["state"])
        self.on_post()
        return httpx.Response(201, json={"type": "build"})


def _services(bitbucket: Bitbucket) -> Services:
    settings = make_settings(token=Secret("t0ken"), jobs=(RULE,), pipelines=PIPELINES)
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    api = build_client(settings.bitbucket, client, SEALER, transport=httpx.MockTransport(bitbucket))
    return Services(
        settings=settings,
        redis=client,
        deliveries=DeliveryStore(client),
        jobs=JobStore(client, SEALER),
        follow_ups=FollowUps(client),
        teams=TeamStore(client),
        bitbucket=api,
        patient_bitbucket=api,
    )


def _running_job(services: Services) -> str:
    job_id = job_id_for(RULE.name, REPO, COMMIT)
    request = JobRequest(
        job_id=job_id,
        rule=RULE.name,
        runner="pipeline",
        context="ci",
        product="cloud",
        repository=REPO,
        commit=COMMIT,
        ref="refs/heads/main",
        branch="main",
        event_key="repo:push",
        delivery_id="d-1",
    )
    services.jobs.create(request)
    assert services.jobs.claim_start(job_id, owner="o")
    assert services.jobs.finish_start(job_id, "o", external_id="{p-7}", build_number="7")
    return job_id


def _pipelines_status(state: str) -> Event:
    event = parse_fixture("cloud", "repo-commit_status_created.json", "repo:commit_status_created")
    return dataclasses.replace(
        event, repository=REPO, commit=COMMIT, status_state=state, status_build=7
    )


def test_a_status_posted_while_another_poster_holds_the_job_is_posted_once_and_in_order() -> None:
    bitbucket = Bitbucket()
    services = _services(bitbucket)
    job_id = _running_job(services)

    def webhook_handler_finishes_the_job() -> None:
        bitbucket.on_post = lambda: None
        job_flow.finish_from_status(services, _pipelines_status("FAILED"))

    bitbucket.on_post = webhook_handler_finishes_the_job
    job_flow.sync_status(services, job_id)
    job_flow.sync_status(services, job_id)

    assert bitbucket.posted == ["INPROGRESS", "FAILED"]
    job = services.jobs.get(job_id)
    assert job is not None and job.status_posted == "FAILED"


def test_a_failed_post_gives_the_job_back_to_the_next_poster() -> None:
    bitbucket = Bitbucket()
    services = _services(bitbucket)
    job_id = _running_job(services)
    bitbucket.fail_next_post = True
    with pytest.raises(BitbucketUnavailable):
        job_flow.sync_status(services, job_id)
    job_flow.sync_status(services, job_id)
    assert bitbucket.posted == ["INPROGRESS"]


def _follow(services: Services, job_id: str) -> list[tuple[str, list[Any], float]]:
    scheduled: list[tuple[str, list[Any], float]] = []
    job_flow.follow_pipeline(services, job_id, None, lambda *call: scheduled.append(call))
    return scheduled


def test_once_the_runs_inprogress_webhook_came_the_fallback_waits_until_max_follow() -> None:
    bitbucket = Bitbucket()
    services = _services(bitbucket)
    job_id = _running_job(services)
    assert job_flow.finish_from_status(services, _pipelines_status("INPROGRESS")) == []
    job = services.jobs.get(job_id)
    assert job is not None and job.statuses_arrive and job.state == "INPROGRESS"

    [(name, args, wait)] = _follow(services, job_id)

    assert name == FOLLOW_PIPELINE and args == [job_id, wait]
    assert PIPELINES.max_follow - 60 < wait <= PIPELINES.max_follow


def test_a_run_no_webhook_was_heard_for_is_looked_at_again_after_the_poll_interval() -> None:
    bitbucket = Bitbucket()
    services = _services(bitbucket)
    job_id = _running_job(services)
    [(_, _, wait)] = _follow(services, job_id)
    assert wait == PIPELINES.poll_interval


def test_another_runs_webhook_does_not_count_for_this_job() -> None:
    bitbucket = Bitbucket()
    services = _services(bitbucket)
    job_id = _running_job(services)
    other = dataclasses.replace(_pipelines_status("INPROGRESS"), status_build=8)
    job_flow.finish_from_status(services, other)
    job = services.jobs.get(job_id)
    assert job is not None and not job.statuses_arrive
