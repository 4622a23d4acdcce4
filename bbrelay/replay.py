"""`bbrelay replay`: run stored deliveries again, from their raw bodies, through the same guards.

Nothing is fetched from Bitbucket: the receiver kept the exact bytes for the dedupe window. The
replayed event goes through the worker as before, so jobs and statuses it already caused are
not repeated (one job per commit and rule).
"""

from __future__ import annotations

import uuid

from receiver.enqueue import BrokerUnavailable, CeleryEnqueuer
from shared.deliveries import DeliveryStore
from shared.payloads import PayloadError, parse_event
from shared.settings import Settings


class ReplayRefused(Exception):
    """The delivery cannot be replayed; the message says why."""


def replay(store: DeliveryStore, enqueuer: CeleryEnqueuer, delivery_id: str) -> str:
    """Queue the delivery again; returns the new task id."""
    record = store.get(delivery_id)
    if record is None:
        raise ReplayRefused(f"no delivery {delivery_id} (unknown, or older than the records)")
    body = store.raw_body(delivery_id)
    if body is None:
        raise ReplayRefused(f"{delivery_id}: its raw body is past the dedupe window")
    id_header = "X-Request-UUID" if record.get("product") == "cloud" else "X-Request-Id"
    headers = {"X-Event-Key": str(record.get("event_key", "")), id_header: delivery_id}
    try:
        event = parse_event(
            headers, body, received_at=float(record["received_at"]), delivery_id=delivery_id
        )
    except PayloadError as exc:
        raise ReplayRefused(f"{delivery_id}: the stored body no longer parses: {exc}") from exc
    task_id = str(uuid.uuid4())
    store.requeue(delivery_id, task_id)
    try:
        enqueuer.enqueue(event.to_json(), task_id)
    except BrokerUnavailable as exc:
        store.advance(delivery_id, "failed", error=f"replay not queued: {exc}")
        raise ReplayRefused(f"{delivery_id}: the queue is unavailable: {exc}") from exc
    return task_id


def replay_many(settings: Settings, store: DeliveryStore, ids: list[str]) -> int:
    """Replay each id, printing one line per delivery; exit status 1 if any was refused."""
    enqueuer = CeleryEnqueuer(settings)
    refused = 0
    for delivery_id in ids:
        try:
            task_id = replay(store, enqueuer, delivery_id)
        except ReplayRefused as exc:
            print(f"not replayed: {exc}")
            refused += 1
            continue
        print(f"replayed {delivery_id} as task {task_id}")
    return 1 if refused else 0
