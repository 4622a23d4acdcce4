"""A worker holding unacknowledged messages rides out Redis restarts (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery

from bbrelay.embedded_redis import EmbeddedRedis
from shared.deliveries import DeliveryStore
from shared.task_names import HANDLE_EVENT, QUEUE
from tests.conftest import fixture_bytes
from tests.integration.processes import receiver, service_env, wait_until, worker_process

pytestmark = pytest.mark.integration

SECRET = "restart-secret-long-enough-for-production"
BODY = fixture_bytes("cloud/repo-push-signed.json")
LOST = b"Connection to broker lost"
DEADLINE = 60.0


def test_the_same_worker_keeps_consuming_after_redis_restarts_while_it_holds_messages(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()  # AOF on, data kept across restarts
    port = server.port
    client = redis.Redis.from_url(server.url, socket_timeout=5)
    env = service_env(server.url, tmp_path, {"BBRELAY_WEBHOOK_SECRET": SECRET})
    try:
        with (
            receiver(env, tmp_path, workers=1) as url,
            worker_process(env, tmp_path, 2) as (
                proc,
                log,
            ),
        ):
            deliver_and_wait(url, client, proc, log, 0)
            for n, stop in enumerate([EmbeddedRedis.stop, EmbeddedRedis.kill], start=1):
                held = hold_a_message(server.url, client, proc, log)
                stop(server)
                wait_until(lambda n=n: log.read_bytes().count(LOST) == n, proc, log, DEADLINE)
                server = EmbeddedRedis(
                    tmp_path / "redis", port=port, password=server.password
                ).start()
                deliver_and_wait(url, client, proc, log, n)
                assert proc.poll() is None
                if stop is EmbeddedRedis.stop:  # SIGTERM wrote the AOF out; a SIGKILL may not
                    assert held in unacked_task_ids(client) | queued_task_ids(client)
    finally:
        client.close()
        server.stop()


def hold_a_message(
    broker_url: str, client: redis.Redis[bytes], proc: subprocess.Popen[bytes], log: Path
) -> str:
    """Publish a task due in an hour and wait until the worker holds it unacknowledged."""
    task_id = f"held-{uuid.uuid4()}"
    publisher = Celery("restart-test", broker=broker_url, set_as_current=False)
    publisher.send_task(HANDLE_EVENT, args=[{}], task_id=task_id, queue=QUEUE, countdown=3600)
    publisher.close()
    wait_until(lambda: task_id in unacked_task_ids(client), proc, log, DEADLINE)
    return task_id


def deliver_and_wait(
    url: str, client: redis.Redis[bytes], proc: subprocess.Popen[bytes], log: Path, n: int
) -> None:
    """Post the `n`th signed delivery and wait until the worker processed it.

    Trailing blanks give each a body of its own, so the body dedupe takes none for a repeat.
    """
    delivery_id = f"restart-{n}-{uuid.uuid4()}"
    body = BODY + b" " * (n + 1)
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-Event-Key": "repo:push",
        "X-Request-UUID": delivery_id,
        "X-Hub-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{url}/api/webhooks/bitbucket", content=body, headers=headers, timeout=10)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    store = DeliveryStore(client)

    def processed() -> bool:
        return (store.get(delivery_id) or {}).get("status") == "processed"

    wait_until(processed, proc, log, DEADLINE)


def unacked_task_ids(client: redis.Redis[bytes]) -> set[str]:
    """Ids of the tasks kombu's Redis transport records as delivered and not yet acknowledged."""
    return {json.loads(raw)[0]["headers"]["id"] for raw in client.hvals("unacked")}


def queued_task_ids(client: redis.Redis[bytes]) -> set[str]:
    return {json.loads(raw)["headers"]["id"] for raw in client.lrange(QUEUE, 0, -1)}
