"""Delivering team diffs to the sink: signed, oldest first, popped only once accepted."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest
import redis

from shared.bitbucket.errors import RetryableError
from shared.bitbucket.factory import http_options
from shared.config.settings import BitbucketSettings, TeamSink
from shared.secret import Secret
from shared.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from shared.teams.sink import SinkUnavailable, deliver_outbox
from shared.teams.store import TeamStore

SINK = TeamSink(url="https://platform.example.com/hooks/teams", secret=Secret("sink-secret"))
REMOVED_BO = {
    "workspace": "acme",
    "at": 1_700_000_000.0,
    "added": [],
    "removed": [
        {
            "user_id": "{bo}",
            "nickname": "bo",
            "display_name": "Bo",
            "groups": ["developers"],
            "role": "member",
        }
    ],
    "changed": [],
}


class Sink:
    """The platform's endpoint: answers from `statuses` in turn (then 200), keeps each body."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []
        self.on_request: Callable[[httpx.Request], None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            self.on_request(request)
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        headers = {"Location": "https://elsewhere.example.net/"} if 300 <= status < 400 else {}
        return httpx.Response(status, headers=headers)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


def _http(sink: Sink) -> httpx.Client:
    """Built like the workers' platform client: no redirects followed."""
    options = http_options(BitbucketSettings())
    return httpx.Client(transport=httpx.MockTransport(sink), **options)  # type: ignore[arg-type]


def _store() -> TeamStore:
    client: redis.Redis[bytes] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return TeamStore(client)


def _diff(n: int) -> dict[str, Any]:
    return {"workspace": "acme", "at": float(n), "added": [{"nickname": f"user{n}"}]}


def test_a_diff_is_posted_as_json_signed_with_the_sink_secret_and_a_timestamp() -> None:
    store, sink = _store(), Sink()
    store.push_outbox("acme", REMOVED_BO)
    assert deliver_outbox(store, _http(sink), SINK, "acme") == 1
    [request] = sink.requests
    assert str(request.url) == SINK.url
    assert request.headers["Content-Type"] == "application/json"
    stamped = request.headers[TIMESTAMP_HEADER].encode() + b"." + request.content
    digest = hmac.new(b"sink-secret", stamped, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == f"sha256={digest}"
    assert json.loads(request.content) == REMOVED_BO
    assert store.outbox_length("acme") == 0


def test_queued_diffs_go_oldest_first() -> None:
    store, sink = _store(), Sink()
    for n in (1, 2, 3):
        store.push_outbox("acme", _diff(n))
    assert deliver_outbox(store, _http(sink), SINK, "acme") == 3
    assert [body["at"] for body in sink.bodies()] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("refusal", [500, 429, 404, 302, 0], ids=str)
def test_a_refused_diff_stays_at_the_head_and_order_holds_on_the_next_attempt(
    refusal: int,
) -> None:
    store, sink = _store(), Sink(200, refusal)
    for n in (1, 2, 3):
        store.push_outbox("acme", _diff(n))
    with pytest.raises(SinkUnavailable) as caught:
        deliver_outbox(store, _http(sink), SINK, "acme")
    assert isinstance(caught.value, RetryableError)  # Celery retries it
    assert store.outbox_length("acme") == 2
    assert deliver_outbox(store, _http(sink), SINK, "acme") == 2
    assert [body["at"] for body in sink.bodies()] == [1.0, 2.0, 2.0, 3.0]
    assert store.outbox_length("acme") == 0


def test_only_the_configured_sink_host_is_called_even_when_redirected() -> None:
    store, sink = _store(), Sink(307)
    store.push_outbox("acme", _diff(1))
    with pytest.raises(SinkUnavailable):
        deliver_outbox(store, _http(sink), SINK, "acme")
    assert {request.url.host for request in sink.requests} == {"platform.example.com"}


def test_an_empty_outbox_sends_nothing() -> None:
    store, sink = _store(), Sink()
    assert deliver_outbox(store, _http(sink), SINK, "acme") == 0
    assert sink.requests == []


def test_outboxes_are_kept_per_workspace() -> None:
    store, sink = _store(), Sink()
    store.push_outbox("acme", _diff(1))
    store.push_outbox("other", _diff(2))
    deliver_outbox(store, _http(sink), SINK, "acme")
    assert store.outbox_length("acme") == 0
    assert store.outbox_length("other") == 1


def test_the_head_is_popped_only_if_it_is_still_the_one_delivered() -> None:
    store = _store()
    store.push_outbox("acme", _diff(1))
    store.push_outbox("acme", _diff(2))
    assert not store.pop_outbox_head("acme", json.dumps(_diff(2), sort_keys=True).encode())
    assert store.outbox_length("acme") == 2
    assert store.pop_outbox_head("acme", json.dumps(_diff(1), sort_keys=True).encode())
    assert store.outbox_length("acme") == 1


def test_two_deliverers_at_once_never_replay_an_older_diff_after_a_newer_one() -> None:
    store, sink = _store(), Sink()
    for n in (1, 2):
        store.push_outbox("acme", _diff(n))

    def another_deliverer(request: httpx.Request) -> None:
        sink.on_request = None
        with contextlib.suppress(Exception):
            deliver_outbox(store, _http(sink), SINK, "acme")

    sink.on_request = another_deliverer  # the first post is slow: the other runs meanwhile
    with contextlib.suppress(Exception):
        deliver_outbox(store, _http(sink), SINK, "acme")
    deliver_outbox(store, _http(sink), SINK, "acme")
    assert [body["at"] for body in sink.bodies()] == [1.0, 2.0]
