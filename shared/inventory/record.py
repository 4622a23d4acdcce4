"""Apply one webhook delivery to the inventory from its stored raw body: no API call."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.inventory.changes import Change, Stored, removals, upserts
from shared.inventory.live import seen_in
from shared.inventory.store import InventoryStore


def record_delivery(
    store: InventoryStore, deliveries: DeliveryStore, event: Event, *, to_sink: bool
) -> tuple[str, list[Change]] | None:
    """The workspace and the changes this delivery made; None when it told nothing new.

    The raw body is the one the receiver kept for its dedupe window; a body gone by the time
    the event is handled leaves the change to the next reconciliation pass.
    """
    body = deliveries.raw_body(event.delivery_id)
    if body is None:
        return None
    at = datetime.fromtimestamp(event.received_at, UTC).isoformat()
    seen = seen_in(event.product, event.event_key, json.loads(body), at)
    if seen is None:
        return None
    stored: Stored
    if seen.deletes:
        stored = store.stored(seen.workspace)
    else:
        stored = store.stored_of(seen.workspace, [(d["type"], d["id"]) for d in seen.upserts])
    changes = upserts(stored, seen.upserts) + removals(stored, seen.deletes)
    written = store.apply(seen.workspace, changes, to_sink=to_sink, seen_at=event.received_at)
    return seen.workspace, written
