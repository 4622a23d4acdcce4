"""Each kind of work has its queue: team sync never waits ahead of a status or a trigger."""

from __future__ import annotations

from celery import Celery

from shared.celery_config import celery_config
from shared.config.settings import Settings
from shared.task_names import (
    BACKGROUND_QUEUE,
    DELIVER_TEAM_DIFFS,
    FOLLOW_PIPELINE,
    HANDLE_EVENT,
    JOB_TIMEOUT,
    POST_STATUS,
    QUEUE,
    START_JOB,
    SYNC_TEAMS,
    SYNC_WORKSPACE,
)


def _queue_of(app: Celery, name: str) -> str:
    """Where `send_task` without a queue (as the follow-up publisher sends) puts `name`."""
    return str(app.amqp.router.route({}, name, (), {})["queue"].name)


def test_team_sync_goes_to_the_background_queue_and_everything_else_to_the_main_one() -> None:
    app = Celery("routes", set_as_current=False)
    app.conf.update(celery_config(Settings()))
    background = {SYNC_TEAMS, SYNC_WORKSPACE, DELIVER_TEAM_DIFFS}
    events_and_jobs = {HANDLE_EVENT, START_JOB, FOLLOW_PIPELINE, POST_STATUS, JOB_TIMEOUT}
    assert {_queue_of(app, name) for name in background} == {BACKGROUND_QUEUE}
    assert {_queue_of(app, name) for name in events_and_jobs} == {QUEUE}
