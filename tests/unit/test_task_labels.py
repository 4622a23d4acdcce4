"""Flower's view of a follow-up: the job, runner and commit; never a variable's value."""

from __future__ import annotations

import redis

from shared.jobs.model import JobRequest
from shared.jobs.store import JobStore
from shared.task_names import FOLLOW_PIPELINE, SYNC_WORKSPACE
from tests.conftest import SEALER
from workers.task_labels import label

REQUEST = JobRequest(
    job_id="build-1",
    rule="build",
    runner="pipeline",
    context="ci",
    product="cloud",
    repository="acme/data",
    commit="a" * 40,
    ref="refs/heads/main",
    branch="main",
    event_key="repo:push",
    delivery_id="d-1",
    variables={"TOKEN": "do-not-show-me"},
)


def test_a_job_task_names_the_job_its_runner_and_commit(fake_redis: redis.Redis[bytes]) -> None:
    jobs = JobStore(fake_redis, SEALER)
    jobs.create(REQUEST)
    shown = label(jobs, FOLLOW_PIPELINE, ["build-1", 15.0])
    assert shown == "build-1 pipeline acme/data@aaaaaaaa"
    assert "do-not-show-me" not in shown


def test_other_tasks_name_what_they_are_about(fake_redis: redis.Redis[bytes]) -> None:
    jobs = JobStore(fake_redis, SEALER)
    assert label(jobs, SYNC_WORKSPACE, ["acme"]) == "acme"
    assert label(jobs, FOLLOW_PIPELINE, ["gone"]) == "gone"
    assert label(jobs, "bbrelay.handle_event", [{"delivery_id": "d"}]) == "(1 args)"
