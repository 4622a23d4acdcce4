"""The first inventory pass of a large Cloud workspace, and what webhooks cost afterwards.

2,000 repositories in 4 projects, 300 users, 40 groups, 600 pull requests updated in the last
day across 150 repositories (with reviewers, approvals and comments). Prints the pass's API
calls (every call but token fetches, counted at the fake) beside the minimum pages of the
strategy (per repository: ceil(repositories/100) + the members' and groups' pages + one page of
pull requests per repository pushed to in the window, at 50 a page) and beside JupiterOne's
formula (repos/10 + PRs/10 + 2·PRs), then the calls spent applying a webhook (none), then
the reconciler's next pass both ways: taking its repositories from the inventory's shared
listing, and listing them itself as it would without one.

Usage: .venv/bin/python bench/inventory.py
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import fakeredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.bitbucket.factory import build_client
from shared.config.settings import (
    BitbucketSettings,
    Consumer,
    InventorySettings,
    RateLimit,
    Settings,
    TeamSyncSettings,
)
from shared.deliveries import DeliveryStore
from shared.inventory.full_pass import run_pass
from shared.inventory.record import record_delivery
from shared.inventory.store import InventoryStore
from shared.payloads import parse_event
from shared.reconcile.run import Reconciler
from shared.reconcile.state import ReconcileState
from shared.sealing import Sealer, new_encryption_key
from shared.secret import Secret
from tests.fakes import inventory_data
from tests.fakes.bitbucket_server import FakeBitbucket

REPOSITORIES, PROJECTS, USERS, GROUPS, PULL_REQUESTS, ACTIVE = 2000, 4, 300, 40, 600, 150


def api_calls(fake: FakeBitbucket) -> int:
    return sum(1 for r in fake.recorded if not r.path.endswith("/access_token"))


def approval_body(fake: FakeBitbucket) -> bytes:
    """A `pullrequest:approved` for pull request 1 of repo-0000, in Cloud's payload shape."""
    name = "acme/repo-0000"
    pull = fake.pull_requests[name][0]
    approver = pull["reviewers"][1]
    payload = {
        "actor": approver,
        "pullrequest": pull,
        "repository": fake.repository_fields(name),
        "approval": {"date": pull["updated_on"], "user": approver},
    }
    return json.dumps(payload).encode()


def reconciler_calls(
    fake: FakeBitbucket, settings: Settings, client: Any, state: Any, now: float
) -> tuple[int, int]:
    """The repository-listing calls and all calls of one reconciler pass after the inventory's."""
    ReconcileState(state).start(now - 3600)
    before = list(fake.recorded)
    Reconciler(settings, client, state, DeliveryStore(state), lambda *_: None).run(now=now)
    made = [r for r in fake.recorded[len(before) :] if not r.path.endswith("/access_token")]
    return sum(1 for r in made if r.path == "/2.0/repositories/acme"), len(made)


def main() -> None:
    now = time.time()
    with FakeBitbucket("cloud") as fake:
        inventory_data.seed(
            fake,
            "acme",
            repositories=REPOSITORIES,
            projects=PROJECTS,
            users=USERS,
            groups=GROUPS,
            pull_requests=PULL_REQUESTS,
            active=ACTIVE,
            now=now,
        )
        settings = Settings(
            bitbucket=BitbucketSettings(
                api_url=fake.api_url,
                token_url=fake.token_url,
                consumers=(Consumer("client-1", Secret("secret-1")),),
                # a bucket that never waits; the pass's share is still 250 calls, a quarter of
                # an OAuth consumer's 1,000 an hour
                rate_limit=RateLimit(1_000_000, 100_000),
                inventory=InventorySettings(
                    enabled=True, workspaces=("acme",), budget_share=250 / 1_000_000
                ),
            ),
            team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
        )
        client_redis = fakeredis.FakeRedis()
        sealer = Sealer([Secret(new_encryption_key())])
        client = build_client(settings.bitbucket, client_redis, sealer)
        store = InventoryStore(client_redis)
        report, _ = run_pass(client, store, settings, "acme", now=now)
        first = api_calls(fake)
        deliveries = DeliveryStore(client_redis)
        body = approval_body(fake)
        headers = {"X-Event-Key": "pullrequest:approved", "X-Request-UUID": "bench-1"}
        event = parse_event(headers, body, received_at=now, delivery_id="bench-1")
        deliveries.claim("bench-1", "sha-bench-1", body, {})
        recorded = record_delivery(store, deliveries, event, to_sink=True)
        webhook = api_calls(fake) - first
        shared = reconciler_calls(fake, settings, client, client_redis, now + 1)
        alone = reconciler_calls(fake, settings, client, fakeredis.FakeRedis(), now + 1)
    minimum = math.ceil(REPOSITORIES / 100) + math.ceil(USERS / 100) + 1 + ACTIVE
    jupiterone = REPOSITORIES // 10 + PULL_REQUESTS // 10 + 2 * PULL_REQUESTS
    counts = store.counts("acme")
    print(f"graph: {json.dumps(counts)}; pass {report.outcome}, budget {report.calls} calls")
    print(
        f"first pass API calls: {first}; minimum pages (per-repository strategy): {minimum}; "
        f"JupiterOne formula: {jupiterone}; ratio to JupiterOne {first / jupiterone:.2f}"
    )
    changes = len(recorded[1]) if recorded else 0
    print(f"webhook pullrequest:approved: {changes} change(s), {webhook} API calls")
    print(
        f"next reconciler pass: {shared[0]} listing calls ({shared[1]} in all) with the shared "
        f"listing; {alone[0]} listing calls ({alone[1]} in all) listing on its own"
    )


if __name__ == "__main__":
    main()
