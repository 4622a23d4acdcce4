"""`reconcile`: beat's pass that feeds pushes Bitbucket never delivered through the event path."""

from __future__ import annotations

from typing import Any

import structlog

from shared.reconcile.run import Reconciler
from shared.task_names import HANDLE_EVENT, QUEUE, RECONCILE
from workers.celery_app import app
from workers.services import services

log = structlog.get_logger(__name__)

LOCK = "bbrelay:reconcile:lock"


def send_event(event: dict[str, Any], task_id: str) -> None:
    app.send_task(HANDLE_EVENT, args=[event], task_id=task_id, queue=QUEUE)


@app.task(name=RECONCILE)  # type: ignore[untyped-decorator]
def reconcile() -> str:
    """One pass; a pass still running elsewhere makes this one a no-op."""
    current = services()
    interval = current.settings.bitbucket.reconcile.interval
    lock = current.redis.lock(LOCK, timeout=max(60.0, interval), blocking=False)
    if not lock.acquire():
        log.info("reconcile.skipped", reason="a pass is still running")
        return "skipped"
    try:
        reconciler = Reconciler(
            current.settings, current.bitbucket, current.redis, current.deliveries, send_event
        )
        report = reconciler.run()
    finally:
        lock.release()
    log.info(
        "reconcile.finished",
        outcome=report.outcome,
        updated=report.updated,
        started=len(report.started),
        deleted=len(report.deleted),
        calls=report.calls,
        pending=report.pending,
    )
    return report.outcome
