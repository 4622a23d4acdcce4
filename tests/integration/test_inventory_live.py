"""A webhook updates the inventory end to end: real receiver, worker and Redis, fake sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.inventory import entities
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.platform import FakePlatform
from tests.integration.processes import wait_until
from tests.integration.relay import Relay, bitbucket_values, fixture, relay

pytestmark = pytest.mark.integration

SINK_SECRET = "inventory-sink-secret"
WORKSPACE = "team_name"  # the real `pullrequest:approved` payload's workspace


@pytest.fixture
def cloud() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as fake:
        yield fake


def _pull_requests(relay: Relay) -> list[dict[str, Any]]:
    response = relay.api("GET", f"/api/inventory/{WORKSPACE}/pull_request")
    return list(response.json()["values"]) if response.status_code == 200 else []


def test_an_approval_webhook_reaches_the_snapshot_and_the_sink(
    cloud: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    body = fixture("cloud", "pullrequest-approved.json")
    payload = json.loads(body)
    approver = payload["approval"]["user"]["uuid"]
    pull_id = entities.pull_request_id(payload["repository"]["uuid"], payload["pullrequest"]["id"])
    inventory = {
        "enabled": True,
        "workspaces": [WORKSPACE],
        "sink": {"url": "", "secret": SINK_SECRET},
    }
    with FakePlatform() as sink:
        inventory["sink"]["url"] = sink.url
        values = bitbucket_values(cloud, inventory=inventory)
        with relay(redis_url, tmp_path, values) as running:
            answer = running.deliver("cloud", "pullrequest:approved", body, "inventory-live-1")
            assert answer.status_code == 202
            wait_until(lambda: _pull_requests(running), log=running.worker_log, timeout=60)
            wait_until(lambda: sink.received(), log=running.worker_log, timeout=60)
            [pull] = _pull_requests(running)
            received = sink.received()

    assert pull["id"] == pull_id
    assert approver in pull["approvers"]
    assert approver in pull["participants"]
    [delivery] = received
    assert delivery.signed_by(SINK_SECRET)
    assert delivery.document["workspace"] == WORKSPACE
    [change] = delivery.document["changes"]
    assert (change["op"], change["type"], change["id"]) == ("upsert", "pull_request", pull_id)
    assert change["document"] == pull
