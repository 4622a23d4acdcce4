"""Inventory tasks: beat's pass over each workspace, and delivering changes to the sink."""

from __future__ import annotations

import structlog
from celery import Task

from shared.inventory.full_pass import run_pass, workspaces
from shared.inventory.sink import deliver_changes
from shared.inventory.store import InventoryStore
from shared.task_names import DELIVER_INVENTORY, INVENTORY
from workers.celery_app import app
from workers.retrying import bitbucket_retries
from workers.scheduling import schedule
from workers.services import services

log = structlog.get_logger(__name__)

LOCK = "bbrelay:inventory:lock"


@app.task(name=INVENTORY)  # type: ignore[untyped-decorator]
def inventory_pass() -> list[str]:
    """One pass of every inventory workspace; a pass still running elsewhere makes this a no-op."""
    current = services()
    settings = current.settings.bitbucket.inventory
    lock = current.redis.lock(LOCK, timeout=max(60.0, settings.interval), blocking=False)
    if not lock.acquire():
        log.info("inventory.skipped", reason="a pass is still running")
        return []
    store = InventoryStore(current.redis)
    outcomes = []
    try:
        for workspace in workspaces(current.settings):
            report, changes = run_pass(current.bitbucket, store, current.settings, workspace)
            log.info("inventory.pass_finished", **report.as_dict())
            outcomes.append(f"{workspace}: {report.outcome}")
            if changes and settings.sink is not None:
                schedule(DELIVER_INVENTORY, [workspace], 0)
    finally:
        lock.release()
    return outcomes


@app.task(name=DELIVER_INVENTORY, bind=True, max_retries=200)  # type: ignore[untyped-decorator]
def deliver_inventory(self: Task, workspace: str) -> int:
    current = services()
    sink = current.settings.bitbucket.inventory.sink
    if sink is None:
        return 0
    with bitbucket_retries(self):
        return deliver_changes(
            InventoryStore(current.redis), current.platform_http(sink.tls), sink, workspace
        )
