"""One repository listing per interval, shared by the inventory pass and the reconciler.

The inventory pass lists every repository of a workspace (newest update first) and keeps that
complete listing in Redis with its time. A reconciler pass whose last listing is older than it
takes the repositories updated since from it instead of listing again, and says it listed up to
the listing's time, so its next pass lists from there and misses no push.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import redis

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import UpdatedRepository
from shared.reconcile.budget import Budget
from shared.reconcile.listing import updated_since

PREFIX = "bbrelay:listing"
KEPT = 7 * 24 * 3600.0  # a listing older than any sane interval is of no use to anyone


@dataclass(frozen=True)
class Listing:
    at: float  # epoch seconds the listing started
    repositories: list[UpdatedRepository]


def _key(workspace: str) -> str:
    return f"{PREFIX}:{workspace.lower()}"


def save_complete(
    client: redis.Redis[bytes], workspace: str, at: float, repositories: list[UpdatedRepository]
) -> None:
    """Keep a complete listing started at `at` (the page items: names, uuids, projects, times)."""
    document = {"at": at, "repositories": [r.fields for r in repositories]}
    client.set(_key(workspace), json.dumps(document), ex=int(KEPT))


def complete(client: redis.Redis[bytes], workspace: str) -> Listing | None:
    raw = client.get(_key(workspace))
    if raw is None:
        return None
    document = json.loads(raw)
    items = [UpdatedRepository.from_cloud(item) for item in document["repositories"]]
    return Listing(float(document["at"]), items)


def listed_since(
    client: BitbucketClient,
    store: redis.Redis[bytes],
    workspace: str,
    since: datetime,
    budget: Budget,
    *,
    made_after: float,
    now: float,
) -> tuple[list[UpdatedRepository], float]:
    """The repositories updated after `since` and the time they are known up to: from the
    shared listing when it was made after `made_after` (no call), else listed now."""
    shared = complete(store, workspace)
    if shared is None or shared.at <= made_after:
        return updated_since(client, workspace, since, budget), now
    found = [r for r in shared.repositories if r.updated_on is None or r.updated_on > since]
    return found, shared.at
