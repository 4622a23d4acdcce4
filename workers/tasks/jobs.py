"""Tasks that follow a job after its start: pipeline polling, status posts, timeouts."""

from __future__ import annotations

from typing import Any

import redis
import structlog
from celery import Task

from shared.task_names import FOLLOW_PIPELINE, JOB_TIMEOUT, POST_STATUS, START_JOB
from workers import job_flow
from workers.celery_app import app
from workers.retrying import bitbucket_retries
from workers.scheduling import schedule
from workers.services import services
from workers.tasks.base import JobTask

log = structlog.get_logger(__name__)

# Redis errors retry with back-off like Bitbucket's; a job whose task gives up is a dead letter.
RETRIES = {
    "bind": True,
    "base": JobTask,
    "max_retries": 8,
    "autoretry_for": (redis.ConnectionError, redis.TimeoutError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}


@app.task(name=START_JOB, **RETRIES)  # type: ignore[untyped-decorator]
def start_job(self: Task, job_id: str) -> None:
    structlog.contextvars.bind_contextvars(job_id=job_id)
    with bitbucket_retries(self):
        job_flow.run_job(services(), job_id, schedule)


@app.task(name=FOLLOW_PIPELINE, **RETRIES)  # type: ignore[untyped-decorator]
def follow_pipeline(self: Task, job_id: str, wait: float | None = None) -> None:
    structlog.contextvars.bind_contextvars(job_id=job_id)
    with bitbucket_retries(self):
        job_flow.follow_pipeline(services(), job_id, wait, schedule)


@app.task(name=POST_STATUS, **RETRIES)  # type: ignore[untyped-decorator]
def post_status(self: Task, job_id: str) -> None:
    structlog.contextvars.bind_contextvars(job_id=job_id)
    with bitbucket_retries(self):
        job_flow.sync_status(services(), job_id)


@app.task(name=JOB_TIMEOUT, **RETRIES)  # type: ignore[untyped-decorator]
def job_timeout(self: Task, job_id: str, deadline: float) -> Any:
    structlog.contextvars.bind_contextvars(job_id=job_id)
    with bitbucket_retries(self):
        job_flow.check_timeout(services(), job_id, deadline, schedule)
