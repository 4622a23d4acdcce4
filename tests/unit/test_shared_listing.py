"""The inventory's complete repository listing serves the reconciler's next pass."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import fakeredis
import httpx

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import UpdatedRepository
from shared.reconcile.budget import Budget
from shared.reconcile.shared_listing import listed_since, save_complete

API = "https://api.bitbucket.org/2.0"
OLD, RECENT = "2026-01-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"


class Listing:
    """A sender answering every repository listing with one page of `items`."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls = 0

    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={"values": self.items}, request=httpx.Request(method, url))


def _repository(name: str, updated_on: str) -> dict[str, Any]:
    return {"full_name": f"acme/{name}", "uuid": "{" + name + "}", "updated_on": updated_on}


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_listing_made_after_the_last_pass_is_reused_and_says_how_far_it_knows() -> None:
    store = fakeredis.FakeRedis()
    listing = [_repository("new", RECENT), _repository("old", OLD)]
    save_complete(store, "ACME", 2000.0, [UpdatedRepository.from_cloud(r) for r in listing])
    sender = Listing(listing)
    client = BitbucketClient("cloud", API, sender)
    since = datetime.fromisoformat("2026-02-01T00:00:00+00:00")

    found, known_at = listed_since(
        client, store, "acme", since, Budget(10), made_after=1000.0, now=3000.0
    )

    assert [r.full_name for r in found] == ["acme/new"]
    assert known_at == 2000.0
    assert sender.calls == 0


def test_a_listing_not_newer_than_the_last_pass_is_not_reused() -> None:
    store = fakeredis.FakeRedis()
    listing = [_repository("new", RECENT)]
    save_complete(store, "acme", 2000.0, [UpdatedRepository.from_cloud(r) for r in listing])
    sender = Listing(listing)
    client = BitbucketClient("cloud", API, sender)
    since = datetime.fromtimestamp(_stamp(OLD), UTC)

    found, known_at = listed_since(
        client, store, "acme", since, Budget(10), made_after=2000.0, now=3000.0
    )

    assert [r.full_name for r in found] == ["acme/new"]
    assert known_at == 3000.0
    assert sender.calls == 1
