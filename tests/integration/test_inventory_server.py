"""An inventory pass against the fake Bitbucket Server/DC over HTTP, its state in a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from shared.bitbucket.factory import build_client
from shared.config.settings import BitbucketSettings, InventorySettings, RateLimit, Settings
from shared.inventory import entities
from shared.inventory.full_pass import PassReport, run_pass
from shared.inventory.store import InventoryStore
from shared.secret import Secret
from tests.conftest import SEALER
from tests.fakes import inventory_data
from tests.fakes.bitbucket_server import FakeBitbucket

pytestmark = pytest.mark.integration

NOW = time.time()
PROJECT = "PRJ"
SIZES = {"repositories": 30, "users": 10, "groups": 3, "pull_requests": 12, "active": 4}


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("server") as bitbucket:
        bitbucket.static_tokens.add("dc-token")
        inventory_data.seed_server(bitbucket, PROJECT, **SIZES, now=NOW)
        yield bitbucket


def _pass(fake: FakeBitbucket, url: str, budget_share: float = 1.0) -> PassReport:
    settings = Settings(
        bitbucket=BitbucketSettings(
            product="server",
            url=fake.base_url,
            api_url=fake.api_url,
            token=Secret("dc-token"),
            rate_limit=RateLimit(1000, 1000),
            inventory=InventorySettings(
                enabled=True, workspaces=(PROJECT.lower(),), budget_share=budget_share
            ),
        )
    )
    client_redis = redis.Redis.from_url(url)
    client = build_client(settings.bitbucket, client_redis, SEALER)
    store = InventoryStore(client_redis)
    report, _ = run_pass(client, store, settings, PROJECT.lower(), now=NOW)
    return report


def test_the_graph_matches_the_fakes_data_and_a_deleted_repository_cascades(
    fake: FakeBitbucket, redis_url: str
) -> None:
    report = _pass(fake, redis_url)
    store = InventoryStore(redis.Redis.from_url(redis_url))
    assert report.outcome == "complete", report
    assert store.counts("prj") == {
        "project": 1,
        "repository": 30,
        "user": 10,
        "group": 3,
        "pull_request": 12,  # the month-old ones are outside the window
        "pipeline_run": 0,
    }
    assert report.calls == len(fake.recorded)
    source = fake.pull_requests["prj/repo-0000"][1]
    repository = str(fake.server_repository_fields(f"{PROJECT}/repo-0000")["id"])
    pull = store.documents("prj", "pull_request")[entities.pull_request_id(repository, 1)]
    assert pull["author"] == str(source["author"]["user"]["id"])
    assert pull["reviewers"] == sorted(str(r["user"]["id"]) for r in source["reviewers"])
    assert pull["approvers"] == [str(source["reviewers"][0]["user"]["id"])]
    assert pull["comment_count"] == source["properties"]["commentCount"]
    groups = store.documents("prj", "group")
    assert groups["group-00"]["members"] == sorted(["0", "3", "6", "9"])

    with fake.lock:
        fake.repositories.discard(f"{PROJECT}/repo-0000")
    assert _pass(fake, redis_url).outcome == "complete"
    assert repository not in store.documents("prj", "repository")
    assert not [
        p for p in store.documents("prj", "pull_request").values() if p["repository"] == repository
    ]


def test_a_pass_keeps_to_its_budget_and_the_next_goes_on(
    fake: FakeBitbucket, redis_url: str
) -> None:
    first = _pass(fake, redis_url, budget_share=10 / 1000)
    assert first.outcome == "budget"
    assert first.calls == 10
    assert first.pending
    second = _pass(fake, redis_url)
    assert second.outcome == "complete"
    assert InventoryStore(redis.Redis.from_url(redis_url)).counts("prj")["pull_request"] == 12
