"""A task base that keeps the delivery record in step with retries and final failures."""

from __future__ import annotations

from typing import Any

import structlog
from billiard.einfo import ExceptionInfo
from celery import Task

from workers.services import services

log = structlog.get_logger(__name__)


def _delivery_id(args: tuple[Any, ...]) -> str | None:
    event = args[0] if args else None
    return event.get("delivery_id") if isinstance(event, dict) else None


class DeliveryTask(Task):  # type: ignore[misc]
    """Marks the delivery `retrying` on a retry and `failed` (a dead letter) when it gives up."""

    def on_retry(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        delivery_id = _delivery_id(args)
        if delivery_id:
            services().deliveries.advance(delivery_id, "retrying", error=_describe(exc))
        log.warning("task.retrying", delivery_id=delivery_id, error=_describe(exc))

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        delivery_id = _delivery_id(args)
        if delivery_id:
            services().deliveries.advance(delivery_id, "failed", error=_describe(exc))
        log.error("task.failed", delivery_id=delivery_id, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
