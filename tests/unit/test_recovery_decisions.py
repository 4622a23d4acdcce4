"""The sweep's decisions: pure functions of a record, the time and what is pending."""

from __future__ import annotations

import dataclasses

from shared.config.settings import RecoverySettings
from shared.jobs.model import Job, JobRequest
from shared.recovery import (
    MAX_DELIVERY_RECOVERIES,
    delivery_decision,
    job_decision,
    watched_task,
)
from shared.task_names import FOLLOW_PIPELINE, JOB_TIMEOUT, POST_STATUS, START_JOB

SETTINGS = RecoverySettings(
    delivery_deadline=60.0, start_deadline=180.0, follow_up_lease=120.0, sweep_interval=5.0
)
NOW = 1_000_000.0
REQUEST = JobRequest(
    job_id="build-1",
    rule="build",
    runner="pipeline",
    context="ci",
    product="cloud",
    repository="ws/repo",
    commit="a" * 40,
    ref="refs/heads/main",
    branch="main",
    event_key="repo:push",
    delivery_id="d-1",
)


def _job(state: str, **changes: object) -> Job:
    return dataclasses.replace(Job(request=REQUEST, state=state), **changes)  # type: ignore[arg-type]


def test_a_delivery_still_queued_with_no_retry_pending_is_sent_again_with_back_off() -> None:
    first = delivery_decision({"status": "queued"}, NOW, None, SETTINGS)
    assert (first.action, first.at) == ("resend", NOW + 120.0)
    third = delivery_decision({"status": "processing", "recoveries": "2"}, NOW, None, SETTINGS)
    assert (third.action, third.at) == ("resend", NOW + 480.0)


def test_a_delivery_with_its_retry_pending_is_left_to_it() -> None:
    decision = delivery_decision({"status": "retrying"}, NOW, NOW + 30, SETTINGS)
    assert (decision.action, decision.at) == ("wait", NOW + 90)


def test_a_processed_or_failed_or_vanished_delivery_leaves_the_index() -> None:
    for record in ({"status": "processed"}, {"status": "failed"}, None):
        assert delivery_decision(record, NOW, None, SETTINGS).action == "forget"


def test_a_delivery_lost_again_and_again_becomes_a_dead_letter() -> None:
    record = {"status": "processing", "recoveries": str(MAX_DELIVERY_RECOVERIES)}
    assert delivery_decision(record, NOW, None, SETTINGS).action == "give_up"


def test_a_pending_job_nobody_started_is_started() -> None:
    decision = job_decision(_job("PENDING"), NOW, None, SETTINGS, posts_statuses=True)
    assert (decision.action, decision.at) == ("start", NOW + 180.0)


def test_a_start_within_its_deadline_is_left_alone_until_then() -> None:
    job = _job("STARTING", starting_at=NOW - 10)
    decision = job_decision(job, NOW, None, SETTINGS, posts_statuses=True)
    assert (decision.action, decision.at) == ("wait", NOW + 170)


def test_a_start_past_its_deadline_is_recovered() -> None:
    job = _job("STARTING", starting_at=NOW - 181)
    assert job_decision(job, NOW, None, SETTINGS, posts_statuses=True).action == "recover_start"


def test_a_running_job_without_a_pending_follow_up_gets_one() -> None:
    decision = job_decision(_job("INPROGRESS"), NOW, None, SETTINGS, posts_statuses=True)
    assert (decision.action, decision.at) == ("follow", NOW + 120.0)


def test_a_running_job_with_its_follow_up_pending_is_looked_at_after_it() -> None:
    decision = job_decision(_job("INPROGRESS"), NOW, NOW + 15, SETTINGS, posts_statuses=True)
    assert (decision.action, decision.at) == ("wait", NOW + 135)


def test_a_finished_job_whose_status_was_not_posted_gets_it_posted() -> None:
    job = _job("SUCCESSFUL", status_posted="INPROGRESS")
    assert job_decision(job, NOW, None, SETTINGS, posts_statuses=True).action == "post_status"
    assert job_decision(job, NOW, None, SETTINGS, posts_statuses=False).action == "forget"


def test_a_finished_and_posted_or_dead_job_leaves_the_index() -> None:
    posted = _job("FAILED", status_posted="FAILED")
    dead = _job("INPROGRESS", dead="RetryableError: gave up")
    for job in (posted, dead, None):
        assert job_decision(job, NOW, None, SETTINGS, posts_statuses=True).action == "forget"


def test_each_state_is_watched_through_the_follow_up_that_carries_it_on() -> None:
    http = dataclasses.replace(REQUEST, runner="http")
    assert watched_task(_job("PENDING")) == START_JOB
    assert watched_task(_job("STARTING")) == START_JOB
    assert watched_task(_job("INPROGRESS")) == FOLLOW_PIPELINE
    assert watched_task(Job(request=http, state="INPROGRESS")) == JOB_TIMEOUT
    assert watched_task(_job("STOPPED")) == POST_STATUS
