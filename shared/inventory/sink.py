"""Deliver a workspace's inventory changes to `inventory.sink.url`, signed, in order."""

from __future__ import annotations

import httpx
import structlog

from shared.config.settings import TeamSink
from shared.inventory.store import InventoryStore
from shared.outbox import SinkUnavailable, deliver

log = structlog.get_logger(__name__)

LOCK_TTL = 300.0


def deliver_changes(
    store: InventoryStore, http: httpx.Client, sink: TeamSink, workspace: str
) -> int:
    """POST queued change bodies oldest first, one deliverer per workspace; a second one gets
    SinkUnavailable and retries later."""
    lock = store.delivery_lock(workspace, LOCK_TTL)
    if not lock.acquire():
        raise SinkUnavailable(f"a delivery of {workspace}'s inventory is running", retry_after=5.0)
    try:
        sent = deliver(store.outbox(workspace), http, sink.url, sink.secret, what="inventory")
    finally:
        lock.release()
    if sent:
        log.info("inventory.changes_delivered", workspace=workspace, count=sent)
    return sent
