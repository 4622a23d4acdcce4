"""Task bases: delayed runs go to the follow-up index; records follow retries and failures."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from billiard.einfo import ExceptionInfo
from celery import Task
from celery.result import AsyncResult

from shared.followups import FollowUp
from workers.scheduling import countdown_of, member_of, schedule_follow_up
from workers.services import services

log = structlog.get_logger(__name__)


class RelayTask(Task):  # type: ignore[misc]
    """A retry (or any delayed run) is stored as a follow-up, not an ETA message held by a
    worker; the follow-up a run was sent as is acknowledged when it returns."""

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: Any = None,
        **options: Any,
    ) -> Any:
        countdown = countdown_of(options)
        if countdown is None or countdown <= 0 or link or link_error:
            return super().apply_async(
                args, kwargs, task_id, producer, link, link_error, shadow, **options
            )
        arguments = list(args or ())
        task_id = task_id or str(uuid.uuid4())
        follow_up = FollowUp(
            member=member_of(self.name, arguments, task_id),
            name=self.name,
            args=arguments,
            kwargs=dict(kwargs or {}),
            retries=int(options.get("retries") or 0),
            task_id=task_id,
        )
        schedule_follow_up(follow_up, countdown)
        return AsyncResult(follow_up.task_id, app=self.app)

    def after_return(
        self,
        status: str,
        retval: Any,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: Any,
        einfo: ExceptionInfo | None,
    ) -> None:
        """Success or final failure: this run's follow-up is done (a retry never gets here)."""
        services().follow_ups.ack(task_id, [member_of(self.name, args, task_id)])


def _delivery_id(args: tuple[Any, ...]) -> str | None:
    event = args[0] if args else None
    return event.get("delivery_id") if isinstance(event, dict) else None


class DeliveryTask(RelayTask):
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


class JobTask(RelayTask):
    """A job task that gives up leaves its job a dead letter that `bbrelay replay` re-drives."""

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        job_id = args[0] if args and isinstance(args[0], str) else None
        job = services().jobs.get(job_id) if job_id else None
        if job is not None and not job.is_final:
            services().jobs.mark_dead(job.job_id, _describe(exc))
        log.error("job.dead_letter", job_id=job_id, task=self.name, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
