"""Bind task_id and task_name to the log context of every task; set up logging once."""

from __future__ import annotations

from typing import Any

import structlog
from celery import signals

from shared.config.settings import Settings
from shared.logging import configure_logging


def connect(settings: Settings) -> None:
    """Route Celery's own logging through structlog and bind per-task context."""

    def setup_logging(**_: Any) -> None:
        configure_logging(settings)

    def bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            task_id=task_id, task_name=getattr(task, "name", None)
        )

    def unbind_task(**_: Any) -> None:
        structlog.contextvars.clear_contextvars()

    signals.setup_logging.connect(setup_logging, weak=False)
    signals.task_prerun.connect(bind_task, weak=False)
    signals.task_postrun.connect(unbind_task, weak=False)
