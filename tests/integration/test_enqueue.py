"""The receiver's Celery publisher against a real redis-server that goes away and comes back."""

from __future__ import annotations

import json
import threading
import time
import uuid
from base64 import b64decode
from pathlib import Path

import pytest
import redis

from bbrelay.embedded_redis import EmbeddedRedis
from receiver import gunicorn_conf
from receiver.broker import PublishingTransport, transport_for
from receiver.enqueue import BrokerUnavailable, CeleryEnqueuer
from shared.celery_config import BROKER_POOL_LIMIT
from shared.task_names import HANDLE_EVENT, QUEUE
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


def queued_tasks(client: redis.Redis[bytes]) -> list[tuple[str, str, list[object]]]:
    """(task name, task id, args) of every message in the queue, oldest first."""
    tasks = []
    for raw in reversed(client.lrange(QUEUE, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(b64decode(message["body"]))
        tasks.append((message["headers"]["task"], message["headers"]["id"], args))
    return tasks


def test_a_plain_redis_url_gets_the_publishing_transport_and_tls_keeps_kombus() -> None:
    assert transport_for("redis://127.0.0.1:6379/0") is PublishingTransport
    assert transport_for("rediss://cache.example:6380/0") is None
    assert transport_for("sentinel://127.0.0.1:26379") is None


def test_tasks_published_in_a_row_arrive_whole_and_in_order(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path, appendonly=False) as server:
        enqueuer = CeleryEnqueuer(make_settings(redis_url=server.url))
        sent = [(str(uuid.uuid4()), {"event_key": "repo:push", "n": n}) for n in range(5)]
        for task_id, event in sent:
            enqueuer.enqueue(event, task_id)
        client = redis.Redis.from_url(server.url)
        got = queued_tasks(client)
        client.close()
    assert got == [(HANDLE_EVENT, task_id, [event]) for task_id, event in sent]


def test_a_kept_producer_fails_while_redis_is_down_and_publishes_once_it_is_back(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(tmp_path, appendonly=False).start()
    port = server.port
    try:
        enqueuer = CeleryEnqueuer(make_settings(redis_url=server.url))
        enqueuer.enqueue({"event_key": "repo:push", "n": 1}, "before")
        server.stop()
        with pytest.raises(BrokerUnavailable):
            enqueuer.enqueue({"event_key": "repo:push", "n": 2}, "while-down")
        with pytest.raises(BrokerUnavailable):
            enqueuer.enqueue({"event_key": "repo:push", "n": 3}, "still-down")
        server = EmbeddedRedis(
            tmp_path, port=port, appendonly=False, password=server.password
        ).start()
        enqueuer.enqueue({"event_key": "repo:push", "n": 4}, "after")
        client = redis.Redis.from_url(server.url)
        ids = [task_id for _name, task_id, _args in queued_tasks(client)]
        client.close()
    finally:
        server.stop()
    assert ids == ["after"]  # the first server kept nothing (no AOF); nothing sent twice


def test_as_many_threads_as_the_pool_allows_each_publish_through_a_producer_of_their_own(
    tmp_path: Path,
) -> None:
    assert gunicorn_conf.threads <= BROKER_POOL_LIMIT
    threads = BROKER_POOL_LIMIT
    published: list[int] = []
    release = threading.Event()

    def publish(n: int) -> None:
        enqueuer.enqueue({"event_key": "repo:push", "n": n}, f"thread-{n}")
        published.append(n)
        release.wait(timeout=60)  # the thread lives on, keeping its producer, like gunicorn's

    with EmbeddedRedis(tmp_path, appendonly=False) as server:
        enqueuer = CeleryEnqueuer(make_settings(redis_url=server.url))
        pool = [threading.Thread(target=publish, args=(n,), daemon=True) for n in range(threads)]
        for thread in pool:
            thread.start()
        deadline = time.monotonic() + 60
        while len(published) < threads and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
        client = redis.Redis.from_url(server.url)
        queued = client.llen(QUEUE)
        client.close()
    assert sorted(published) == list(range(threads))
    assert queued == threads
