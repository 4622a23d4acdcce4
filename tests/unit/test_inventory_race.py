"""A webhook and a pass that read, diff and write at once: the newer view stays."""

from __future__ import annotations

import redis

from shared.inventory.changes import Change
from shared.inventory.store import InventoryStore

PULL = {"type": "pull_request", "id": "{r}#1", "repository": "{r}", "approvers": []}
APPROVED = {**PULL, "approvers": ["{emma}"]}
WEBHOOK_AT, PASS_STARTED_AT = 2000.0, 1000.0


def test_a_pass_that_started_before_a_webhook_does_not_overwrite_it(
    fake_redis: redis.Redis,
) -> None:
    store = InventoryStore(fake_redis)
    webhook = store.apply(
        "acme",
        [Change("upsert", "pull_request", "{r}#1", APPROVED)],
        to_sink=True,
        seen_at=WEBHOOK_AT,
    )
    stale = store.apply(
        "acme",
        [Change("upsert", "pull_request", "{r}#1", PULL)],
        to_sink=True,
        seen_at=PASS_STARTED_AT,
    )
    gone = store.apply(
        "acme",
        [Change("delete", "pull_request", "{r}#1", None)],
        to_sink=True,
        seen_at=PASS_STARTED_AT,
    )
    assert len(webhook) == 1
    assert stale == [] and gone == []
    assert store.documents("acme", "pull_request")["{r}#1"]["approvers"] == ["{emma}"]
    assert store.outbox("acme").length() == 1


def test_a_newer_view_replaces_an_older_one_and_reaches_the_sink(fake_redis: redis.Redis) -> None:
    store = InventoryStore(fake_redis)
    store.apply(
        "acme", [Change("upsert", "pull_request", "{r}#1", PULL)], to_sink=True, seen_at=1.0
    )
    newer = [Change("upsert", "pull_request", "{r}#1", APPROVED)]
    assert store.apply("acme", newer, to_sink=True, seen_at=2.0) == newer
    assert store.documents("acme", "pull_request")["{r}#1"]["approvers"] == ["{emma}"]
    assert store.outbox("acme").length() == 2
