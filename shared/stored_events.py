"""An accepted delivery's event, rebuilt from the exact bytes Bitbucket sent."""

from __future__ import annotations

from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.payloads import PayloadError, parse_event


class NotStored(Exception):
    """The delivery's record or raw body is gone, or the body no longer parses; says which."""


def stored_event(store: DeliveryStore, delivery_id: str) -> Event:
    """The normalised event of a stored delivery, as the receiver first made it."""
    record = store.get(delivery_id)
    if record is None:
        raise NotStored(f"no delivery {delivery_id} (unknown, or older than the records)")
    body = store.raw_body(delivery_id)
    if body is None:
        raise NotStored(f"{delivery_id}: its raw body is past the dedupe window")
    id_header = "X-Request-UUID" if record.get("product") == "cloud" else "X-Request-Id"
    headers = {"X-Event-Key": str(record.get("event_key", "")), id_header: delivery_id}
    try:
        return parse_event(
            headers, body, received_at=float(record["received_at"]), delivery_id=delivery_id
        )
    except PayloadError as exc:
        raise NotStored(f"{delivery_id}: the stored body no longer parses: {exc}") from exc
