"""DC pull requests: newest update first, the listing stops at the first older than the window."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.bitbucket.client import BitbucketClient
from shared.inventory import server_pass
from shared.inventory.entities import Document
from shared.reconcile.budget import Budget
from tests.fakes.inventory_data import server_pull_request

WINDOW = datetime(2026, 3, 1, tzinfo=UTC)
RECENT, OLD = WINDOW.timestamp() + 60, WINDOW.timestamp() - 60


class Pages:
    """A sender answering each DC listing with the next of `pages` (never the last page)."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.calls: list[Mapping[str, Any]] = []

    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        self.calls.append(dict(params or {}))
        values = self.pages[len(self.calls) - 1]
        page = {"values": values, "isLastPage": False, "nextPageStart": 50 * len(self.calls)}
        return httpx.Response(200, json=page, request=httpx.Request(method, url))


def test_the_first_pull_request_older_than_the_window_ends_the_listing() -> None:
    first = [server_pull_request("PRJ/r", n, 5, RECENT - n) for n in range(2)]
    first.append(server_pull_request("PRJ/r", 2, 5, OLD))
    sender = Pages([first, [server_pull_request("PRJ/r", 3, 5, OLD)]])
    client = BitbucketClient("server", "https://bb.example.com/rest", sender)
    seen: list[Document] = []

    pending = server_pass.pull_requests(client, ["PRJ/r"], {"PRJ/r": "7"}, WINDOW, Budget(10), seen)

    assert pending == []
    assert [d["id"] for d in seen] == ["7#1", "7#2"]
    assert sender.calls == [{"limit": 50, "state": "ALL", "order": "NEWEST", "start": 0}]


def test_a_spent_budget_leaves_the_repositories_not_done() -> None:
    sender = Pages([[server_pull_request("PRJ/a", 0, 5, RECENT)]])
    client = BitbucketClient("server", "https://bb.example.com/rest", sender)
    ids = {"PRJ/a": "1", "PRJ/b": "2"}

    pending = server_pass.pull_requests(client, ["PRJ/a", "PRJ/b"], ids, WINDOW, Budget(1), [])

    assert pending == ["PRJ/a", "PRJ/b"]
