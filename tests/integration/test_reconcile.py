"""Reconciler end to end: pushes landing while the relay is down get their jobs after it starts."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.reconcile.state import ReconcileState
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.platform import FakePlatform
from tests.integration.processes import wait_until
from tests.integration.relay import bitbucket_values, relay

pytestmark = pytest.mark.integration

WORKSPACE = "acme"
REPOSITORIES = 500
RULE = {
    "name": "build",
    "on": ["push"],
    "context": "build",
    "runner": "pipeline",
    "pipeline": {"selector": {"type": "custom", "pattern": "build"}},
}


def seed(fake: FakeBitbucket, at: float) -> None:
    for index in range(REPOSITORIES):
        fake.push(f"{WORKSPACE}/repo-{index:03}", "main", f"{index:040x}", at=at)


def values(fake: FakeBitbucket) -> dict[str, Any]:
    return bitbucket_values(
        fake,
        repositories={"allowList": [f"{WORKSPACE}/*"]},
        rateLimit={"requestsPerHour": 100_000, "burstSize": 1000},
        reconcile={"interval": "2s", "budgetShare": 1.0},
        pipelines={"enabled": True, "pollInterval": "200ms"},
        buildStatus={"enabled": False, "contexts": {"build": "relay/build"}},
        jobs=[RULE],
    )


def started(fake: FakeBitbucket) -> set[str | None]:
    return {run.commit for run in fake.triggered()}


def test_pushes_missed_while_down_get_their_jobs_and_the_first_pass_lists_little(
    redis_url: str, tmp_path: Path
) -> None:
    state = ReconcileState(redis.Redis.from_url(redis_url))
    with FakeBitbucket("cloud") as fake:
        seed(fake, at=time.time() - 3600)
        with relay(redis_url, tmp_path, values(fake), with_beat=True):
            wait_until(lambda: state.standing().baseline is not None, timeout=40)
        pushed = {}
        for index in range(30):
            repository = f"{WORKSPACE}/repo-{index % 10:03}"
            sha = f"{index + 1:08x}" + "f" * 32
            fake.push(repository, f"feature/{index}", sha)
            pushed[sha] = repository
        restarted_at = time.time()
        with relay(redis_url, tmp_path, values(fake), with_beat=True):
            wait_until(lambda: set(pushed) <= started(fake), timeout=60)
            first = next(
                r
                for r in reversed(state.reports())
                if r["at"] >= restarted_at and r["outcome"] != "baseline"
            )
    assert state.reports()[-1]["outcome"] == "baseline"
    assert state.reports()[-1]["calls"] == 0
    assert len(first["started"]) == 30, first
    minimum = math.ceil(REPOSITORIES / 100) + 10
    assert first["calls"] <= minimum, first
    assert started(fake) == set(pushed)


DC_PROJECT = "PRJ"
DC_REPOSITORIES = 30


def dc_values(fake: FakeBitbucket, platform: FakePlatform) -> dict[str, Any]:
    rule = {
        "name": "build",
        "on": ["push"],
        "context": "build",
        "runner": "http",
        "http": {"url": platform.url, "secret": "platform-secret", "timeout": "1h"},
    }
    return bitbucket_values(
        fake,
        repositories={"allowList": [f"{DC_PROJECT}/*"]},
        rateLimit={"requestsPerHour": 100_000, "burstSize": 1000},
        reconcile={"interval": "2s", "budgetShare": 1.0},
        buildStatus={"enabled": False, "contexts": {"build": "relay/build"}},
        jobs=[rule],
    )


def test_dc_pushes_missed_while_down_reach_the_platform_as_refs_changed(
    redis_url: str, tmp_path: Path
) -> None:
    state = ReconcileState(redis.Redis.from_url(redis_url))
    with FakeBitbucket("server") as fake, FakePlatform() as platform:
        for index in range(DC_REPOSITORIES):
            fake.push(
                f"{DC_PROJECT}/repo-{index:02}", "main", f"{index:040x}", at=time.time() - 3600
            )
        with relay(redis_url, tmp_path, dc_values(fake, platform), with_beat=True):
            wait_until(lambda: state.standing().baseline is not None, timeout=40)
        pushed = {}
        for index in range(6):
            sha = f"{index + 1:08x}" + "e" * 32
            repository = f"{DC_PROJECT}/repo-{index % 3:02}"
            fake.push(repository, "main" if index < 3 else f"feature/{index}", sha)
            pushed[sha] = repository
        with relay(redis_url, tmp_path, dc_values(fake, platform), with_beat=True) as bbrelay:
            wait_until(lambda: set(pushed) <= commits(platform), timeout=60)
            deliveries = bbrelay.bbrelay("deliveries").stdout
    assert commits(platform) == set(pushed)
    assert {job.document["event"] for job in platform.received()} == {"repo:refs_changed"}
    assert "reconcile" in deliveries
    listings = fake.requests_to(f"/rest/api/latest/projects/{DC_PROJECT}/repos/*/branches")
    assert {(r.query["orderBy"], r.query["details"]) for r in listings} == {
        ("MODIFICATION", "true")
    }


def commits(platform: FakePlatform) -> set[str]:
    return {job.document["commit"] for job in platform.received()}
