"""`bbrelay replay`: run stored deliveries again, from their raw bodies, through the same guards.

Nothing is fetched from Bitbucket: the receiver kept the exact bytes for the dedupe window. The
replayed event goes through the worker as before, so jobs and statuses it already caused are
not repeated (one job per commit and rule).
"""

from __future__ import annotations

import uuid

from receiver.enqueue import BrokerUnavailable, CeleryEnqueuer
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.jobs.store import JobStore
from shared.stored_events import NotStored, stored_event


class ReplayRefused(Exception):
    """The delivery cannot be replayed; the message says why."""


def replay(store: DeliveryStore, enqueuer: CeleryEnqueuer, delivery_id: str) -> str:
    """Queue the delivery again; returns the new task id."""
    try:
        event = stored_event(store, delivery_id)
    except NotStored as exc:
        raise ReplayRefused(str(exc)) from exc
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


def revive_jobs(store: JobStore, job_ids: list[str]) -> int:
    """Hand each dead job back to the workers' sweep, which carries it on from its state."""
    refused = 0
    for job_id in job_ids:
        if store.revive(job_id):
            print(f"re-driving job {job_id}: the workers carry it on from its state")
        else:
            print(f"not replayed: no job {job_id} (unknown, or older than the records)")
            refused += 1
    return 1 if refused else 0
