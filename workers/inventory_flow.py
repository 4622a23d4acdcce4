"""The worker's inventory step for one event: upsert from its payload, queue the sink."""

from __future__ import annotations

import structlog

from shared.events import Event
from shared.inventory.record import record_delivery
from shared.inventory.store import InventoryStore
from shared.task_names import DELIVER_INVENTORY
from workers.job_flow import Schedule
from workers.services import Services

log = structlog.get_logger(__name__)


def record_event(services: Services, event: Event, schedule: Schedule) -> None:
    """With the inventory on, apply the event's news and send the changes to the sink."""
    settings = services.settings.bitbucket.inventory
    if not settings.enabled:
        return
    to_sink = settings.sink is not None
    result = record_delivery(
        InventoryStore(services.redis), services.deliveries, event, to_sink=to_sink
    )
    if result is None or not result[1]:
        return
    workspace, changes = result
    log.info("inventory.recorded", workspace=workspace, changes=len(changes))
    if to_sink:
        schedule(DELIVER_INVENTORY, [workspace], 0)
