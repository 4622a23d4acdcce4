"""Enqueue a follow-up task by its stable name, after a countdown."""

from __future__ import annotations

from typing import Any

from shared.task_names import QUEUE
from workers.celery_app import app


def schedule(name: str, args: list[Any], countdown: float) -> None:
    app.send_task(name, args=args, countdown=max(0.0, countdown), queue=QUEUE)
