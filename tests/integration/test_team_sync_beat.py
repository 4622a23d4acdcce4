"""Team sync end to end: real beat every 2 s, real worker, real Redis, fake Bitbucket and sink."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.teams.store import TeamStore
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.platform import FakePlatform
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, relay

pytestmark = pytest.mark.integration

SINK_SECRET = "sink-secret"


@pytest.fixture(params=["cloud", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeBitbucket]:
    with FakeBitbucket(request.param, budget_per_hour=5000) as bitbucket:
        team_data.seed(bitbucket, "acme", 1050, 12)
        yield bitbucket


def _teams(sink: FakePlatform) -> dict[str, Any]:
    return {
        "auth": {"bitbucket": {"teamSync": {"enabled": True, "workspaceWhitelist": ["acme"]}}},
        "teams": {
            "bitbucket": {
                "syncInterval": "2s",
                "defaultRole": "viewer",
                "mapping": {"group-00": "admin", "group-01": "member"},
                "sink": {"url": sink.url, "secret": SINK_SECRET},
            }
        },
    }


def _members(store: TeamStore) -> dict[str, str]:
    snapshot = store.snapshot("acme") or {}
    return {m.nickname: m.role for m in snapshot.values()}


def test_beat_keeps_roles_in_step_and_the_sink_gets_each_diff_once_in_order(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    store = TeamStore(redis.Redis.from_url(redis_url))
    values = bitbucket_values(fake, rateLimit={"requestsPerHour": 5000, "burstSize": 500})
    failing_path = (
        "/2.0/workspaces/acme/permissions" if fake.product == "cloud" else "/rest/api/latest/users"
    )
    with (
        FakePlatform() as sink,
        relay(redis_url, tmp_path, values, more_global=_teams(sink), with_beat=True),
    ):
        wait_until(lambda: len(_members(store)) == 1050, timeout=40)
        roles = _members(store)
        assert (roles["user00012"], roles["user00013"], roles["user00014"]) == (
            "admin",
            "member",
            "viewer",
        )

        team_data.add_member(fake, "acme", 5000, group=1)
        team_data.remove_member(fake, "acme", 14)
        team_data.move_member(fake, "acme", 25, to_group=0)
        wait_until(lambda: "user05000" in _members(store), timeout=20)
        assert "user00014" not in _members(store)
        assert _members(store)["user00025"] == "admin"

        fake.fail_page(failing_path, 2 if fake.product == "server" else 7)
        team_data.remove_member(fake, "acme", 3)
        wait_until(lambda: "500" in (store.view("acme") or {})["status"].get("last_error", ""))
        time.sleep(2.5)
        assert "user00003" in _members(store)

        fake.clear_faults()
        wait_until(lambda: "user00003" not in _members(store), timeout=20)
        wait_until(lambda: len(sink.received()) == 3 and store.outbox_length("acme") == 0)
        time.sleep(4.5)
        received = sink.received()

    assert fake.responses_with(429) == 0
    assert len(received) == 3
    assert all(job.signed_by(SINK_SECRET) for job in received)
    first, second, third = (json.loads(r.body) for r in received)
    assert len(first["added"]) == 1050 and first["removed"] == []
    assert [m["nickname"] for m in second["added"]] == ["user05000"]
    assert [m["nickname"] for m in second["removed"]] == ["user00014"]
    assert [(c["nickname"], c["role"]) for c in second["changed"]] == [
        ("user00025", ["member", "admin"])
    ]
    assert [m["nickname"] for m in third["removed"]] == ["user00003"]
    assert first["at"] < second["at"] < third["at"]
