"""What the worker does with one normalised event."""

from __future__ import annotations

import structlog

from shared.events import Event
from shared.reconcile.seen import record_head
from workers.inventory_flow import record_event
from workers.job_flow import Schedule, finish_from_status, jobs_for_event
from workers.services import Services

log = structlog.get_logger(__name__)

PUSH_KEYS = frozenset({"repo:push", "repo:refs_changed"})  # the reconciler compares their heads


def handle_event(services: Services, event: Event, schedule: Schedule) -> None:
    """Record the delivery as processing, start its jobs, record it processed."""
    structlog.contextvars.bind_contextvars(
        delivery_id=event.delivery_id, event_key=event.event_key, repo=event.repository
    )
    store = services.deliveries
    store.advance(event.delivery_id, "processing", count_attempt=True)
    job_ids = jobs_for_event(services, event, schedule)
    finished = finish_from_status(services, event)
    log.info(
        "event.handled",
        jobs=job_ids,
        finished=finished,
        ref=event.ref,
        commit=event.commit,
        pr_id=event.pr_id,
        dry_run=services.settings.dry_run,
    )
    if event.event_key in PUSH_KEYS and event.repository and event.branch:
        record_head(services.redis, event.repository, event.branch, event.commit)
    record_event(services, event, schedule)
    store.advance(event.delivery_id, "processed")
