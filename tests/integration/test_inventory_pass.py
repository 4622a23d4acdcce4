"""An inventory pass against the fake Cloud over HTTP, its state in a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis

from shared.bitbucket.factory import build_client
from shared.config.settings import (
    BitbucketSettings,
    Consumer,
    InventorySettings,
    RateLimit,
    Settings,
    TeamSink,
)
from shared.inventory import entities
from shared.inventory.full_pass import PassReport, run_pass
from shared.inventory.store import InventoryStore
from shared.secret import Secret
from tests.conftest import SEALER
from tests.fakes import inventory_data
from tests.fakes.bitbucket_server import FakeBitbucket

pytestmark = pytest.mark.integration

NOW = time.time()
SIZES = {"repositories": 250, "projects": 3, "users": 20, "groups": 4, "pull_requests": 30}


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        inventory_data.seed(bitbucket, "acme", **SIZES, active=6, now=NOW)
        yield bitbucket


def _settings(fake: FakeBitbucket, budget_share: float = 1.0) -> Settings:
    sink = TeamSink("http://127.0.0.1:9/sink", Secret("s"))
    return Settings(
        bitbucket=BitbucketSettings(
            api_url=fake.api_url,
            token_url=fake.token_url,
            consumers=(Consumer("client-1", Secret("secret-1")),),
            rate_limit=RateLimit(1000, 1000),
            inventory=InventorySettings(
                enabled=True, workspaces=("acme",), budget_share=budget_share, sink=sink
            ),
        )
    )


def _pass(fake: FakeBitbucket, url: str, budget_share: float = 1.0) -> PassReport:
    client_redis = redis.Redis.from_url(url)
    client = build_client(_settings(fake).bitbucket, client_redis, SEALER)
    settings = _settings(fake, budget_share)
    report, _ = run_pass(client, InventoryStore(client_redis), settings, "acme", now=NOW)
    return report


def _store(url: str) -> InventoryStore:
    return InventoryStore(redis.Redis.from_url(url))


def test_the_graph_matches_the_fakes_data(fake: FakeBitbucket, redis_url: str) -> None:
    report = _pass(fake, redis_url)
    assert report.outcome == "complete"
    store = _store(redis_url)
    assert store.counts("acme") == {
        "project": 3,
        "repository": 250,
        "user": 20,
        "group": 4,
        "pull_request": 30,
        "pipeline_run": 0,
    }
    source = fake.pull_requests["acme/repo-0000"][0]
    repository = fake.repository_fields("acme/repo-0000")["uuid"]
    pull = store.documents("acme", "pull_request")[entities.pull_request_id(repository, 1)]
    assert pull["author"] == source["author"]["uuid"]
    assert pull["reviewers"] == sorted(r["uuid"] for r in source["reviewers"])
    assert pull["approvers"] == [source["participants"][0]["user"]["uuid"]]
    assert pull["comment_count"] == source["comment_count"]
    assert report.calls == len([r for r in fake.recorded if not r.path.endswith("access_token")])


def test_a_deleted_repository_cascades_to_its_pull_requests(
    fake: FakeBitbucket, redis_url: str
) -> None:
    _pass(fake, redis_url)
    gone = fake.repository_fields("acme/repo-0001")["uuid"]
    with fake.lock:
        fake.repositories.discard("acme/repo-0001")
    report = _pass(fake, redis_url)
    store = _store(redis_url)
    assert report.outcome == "complete"
    assert gone not in store.documents("acme", "repository")
    assert not [
        p for p in store.documents("acme", "pull_request").values() if p["repository"] == gone
    ]
    last = json.loads(store.outbox("acme").redis.lindex(store.outbox("acme").key, -1) or b"{}")
    deleted = {(c["type"], c["id"]) for c in last["changes"] if c["op"] == "delete"}
    assert ("repository", gone) in deleted
    assert ("pull_request", entities.pull_request_id(gone, 2)) in deleted


def test_a_failed_page_deletes_nothing(fake: FakeBitbucket, redis_url: str) -> None:
    _pass(fake, redis_url)
    with fake.lock:
        fake.repositories.discard("acme/repo-0001")
    fake.fail_page("/2.0/repositories/acme", 2)
    report = _pass(fake, redis_url)
    assert report.outcome == "failed"
    assert _store(redis_url).counts("acme")["repository"] == 250


def test_a_pass_keeps_to_its_budget_and_the_next_goes_on(
    fake: FakeBitbucket, redis_url: str
) -> None:
    limit = 3 + 2 + 3  # repositories, members and groups, and three repositories' PRs
    first = _pass(fake, redis_url, budget_share=limit / 1000)
    assert first.outcome == "budget"
    assert first.calls == limit
    # the budget ran out as the third listing ended, so that repository is looked at again
    assert first.pending == [f"acme/repo-{n:04d}" for n in range(2, 6)]
    assert _store(redis_url).counts("acme")["pull_request"] == 15
    second = _pass(fake, redis_url)
    assert second.outcome == "complete"
    assert _store(redis_url).counts("acme")["pull_request"] == 30
