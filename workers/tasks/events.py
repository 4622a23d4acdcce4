"""`handle_event`: the task the receiver enqueues for every accepted delivery."""

from __future__ import annotations

from typing import Any

import redis

from shared.events import Event
from shared.task_names import HANDLE_EVENT
from workers import handling
from workers.celery_app import app
from workers.retrying import bitbucket_retries
from workers.scheduling import schedule
from workers.services import services
from workers.tasks.base import DeliveryTask


@app.task(  # type: ignore[untyped-decorator]
    name=HANDLE_EVENT,
    base=DeliveryTask,
    bind=True,
    autoretry_for=(redis.ConnectionError, redis.TimeoutError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def handle_event(self: DeliveryTask, event: dict[str, Any]) -> None:
    with bitbucket_retries(self):
        handling.handle_event(services(), Event.from_json(event), schedule)
