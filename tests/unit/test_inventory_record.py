"""A webhook's news applied to the stored inventory and delivered to the sink, with no API call."""

from __future__ import annotations

import json

import httpx
import pytest
import redis

from shared.config.settings import TeamSink
from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.inventory.record import record_delivery
from shared.inventory.sink import deliver_changes
from shared.inventory.store import InventoryStore
from shared.outbox import SinkUnavailable
from shared.payloads import parse_event
from shared.secret import Secret
from shared.signing import SIGNATURE_HEADER
from tests.conftest import fixture_bytes

SINK = TeamSink(url="https://platform.example.com/inventory", secret=Secret("sink-secret"))
PR_ID = "{673a6070-3421-46c9-9d48-90745f7bfe8e}#1"


def _deliver(client: redis.Redis, key: str, name: str, delivery_id: str) -> Event:
    body = fixture_bytes(name)
    deliveries = DeliveryStore(client)
    deliveries.claim(delivery_id, f"sha-{delivery_id}", body, {})
    headers = {"X-Event-Key": key, "X-Request-UUID": delivery_id}
    return parse_event(headers, body, received_at=1_700_000_000.0, delivery_id=delivery_id)


def test_an_approval_webhook_updates_the_snapshot_and_reaches_the_sink(
    fake_redis: redis.Redis,
) -> None:
    store = InventoryStore(fake_redis)
    deliveries = DeliveryStore(fake_redis)
    opened = _deliver(
        fake_redis, "pullrequest:unapproved", "cloud/pullrequest-unapproved.json", "d1"
    )
    record_delivery(store, deliveries, opened, to_sink=True)
    assert store.documents("team_name", "pull_request")[PR_ID]["approvers"] == []
    approved = _deliver(fake_redis, "pullrequest:approved", "cloud/pullrequest-approved.json", "d2")
    result = record_delivery(store, deliveries, approved, to_sink=True)
    assert result is not None
    assert [c.type for c in result[1]] == ["pull_request"]
    emma = "{a54f16da-24e9-4d7f-a3a7-b1ba2cd98aa3}"
    assert store.documents("team_name", "pull_request")[PR_ID]["approvers"] == [emma]

    received: list[httpx.Request] = []

    def sink(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    http = httpx.Client(transport=httpx.MockTransport(sink))
    assert deliver_changes(store, http, SINK, "team_name") == 2
    last = json.loads(received[-1].content)
    assert last["workspace"] == "team_name"
    assert last["changes"] == [
        {
            "op": "upsert",
            "type": "pull_request",
            "id": PR_ID,
            "document": store.documents("team_name", "pull_request")[PR_ID],
        }
    ]
    assert received[-1].headers[SIGNATURE_HEADER].startswith("sha256=")
    assert store.outbox("team_name").length() == 0


def test_a_refused_body_stays_at_the_head_of_the_outbox(fake_redis: redis.Redis) -> None:
    store = InventoryStore(fake_redis)
    event = _deliver(fake_redis, "pullrequest:approved", "cloud/pullrequest-approved.json", "d1")
    record_delivery(store, DeliveryStore(fake_redis), event, to_sink=True)
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(503)))
    with pytest.raises(SinkUnavailable, match="503"):
        deliver_changes(store, http, SINK, "team_name")
    assert store.outbox("team_name").length() == 1


def test_a_repeated_webhook_changes_nothing(fake_redis: redis.Redis) -> None:
    store = InventoryStore(fake_redis)
    deliveries = DeliveryStore(fake_redis)
    event = _deliver(fake_redis, "repo:push", "cloud/repo-push.json", "d1")
    first = record_delivery(store, deliveries, event, to_sink=False)
    again = record_delivery(store, deliveries, event, to_sink=False)
    assert first is not None and len(first[1]) == 1
    assert again is not None and again[1] == []
