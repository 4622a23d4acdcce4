"""Pushes that arrive while Redis is down are spooled (202) and processed exactly once after it
returns, even when the worker draining the spool is killed with SIGKILL in the middle."""

from __future__ import annotations

import fcntl
import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from bbrelay.embedded_redis import EmbeddedRedis
from receiver.signature import sign
from shared.deliveries import DeliveryStore
from shared.secret import Secret
from shared.spool import DRAIN_LOCK, Spool
from tests.conftest import fixture_bytes
from tests.integration.processes import receiver, service_env, wait_until, worker_process

pytestmark = pytest.mark.integration

SECRET = "spool-outage-webhook-secret-0123456789"
BODY = fixture_bytes("cloud/repo-push-signed.json")
OUTAGE = 60.0  # seconds of pushes while Redis is stopped
RATE = 20.0  # pushes a second, sent on schedule by several senders (each answer waits an fsync)
SENDERS = 8
DEADLINE = 120.0
HANDLED = '"event": "event.handled"'


@pytest.mark.timeout(360)  # a minute of outage, then the drain: longer than the default 120 s
def test_pushes_during_a_redis_outage_are_spooled_then_processed_once_despite_a_killed_drainer(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()  # AOF on, data kept across restarts
    port = server.port
    env = service_env(server.url, tmp_path, {"BBRELAY_WEBHOOK_SECRET": SECRET})
    spool = Spool(str(tmp_path / "var" / "spool"), 1 << 30)
    client = redis.Redis.from_url(server.url, socket_timeout=5)  # reconnects after the restart
    store = DeliveryStore(client)
    try:
        with (
            receiver(env, tmp_path, workers=2) as url,
            worker_process(env, tmp_path, 2) as (proc, log),
        ):
            delivered = [push(url, "queued")]
            wait_until(lambda: processed_once(store, delivered), proc, log, DEADLINE)
            server.stop()
            delivered += pushes_for(url, OUTAGE)
            with drain_held(spool):  # so that the next drainer to take it finds Redis up
                server = EmbeddedRedis(
                    tmp_path / "redis", port=port, password=server.password
                ).start()
            kill_the_drainer(spool)
            wait_until(lambda: processed_once(store, delivered), proc, log, DEADLINE)
            assert log.read_text().count(HANDLED) == len(delivered)  # no task ran twice
            wait_until(lambda: not spool.has_pending(), timeout=DEADLINE)
    finally:
        client.close()
        server.stop()


def processed_once(store: DeliveryStore, deliveries: list[str]) -> bool:
    """Every delivery's record says processed, after one attempt (a second would count two)."""
    records = [store.get(delivery) or {} for delivery in deliveries]
    if not all(record.get("status") == "processed" for record in records):
        return False
    assert [record["attempts"] for record in records] == [1] * len(records)
    return True


def push(url: str, expected: str) -> str:
    """One signed push with a delivery id and body of its own; returns the delivery id."""
    delivery_id = f"spool-{uuid.uuid4()}"
    body = BODY.replace(b"{", b'{"n": "%s", ' % delivery_id.encode(), 1)
    headers = {
        "X-Event-Key": "repo:push",
        "X-Request-UUID": delivery_id,
        "X-Hub-Signature": sign(Secret(SECRET), body),
        "Content-Type": "application/json",
    }
    answer = httpx.post(f"{url}/api/webhooks/bitbucket", content=body, headers=headers, timeout=10)
    assert (answer.status_code, answer.json()["status"]) == (202, expected)
    return delivery_id


def pushes_for(url: str, seconds: float) -> list[str]:
    """Pushes at RATE a second for `seconds`, each expected to be spooled; /readyz agrees."""
    start = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as senders:
        futures = []
        for n in range(int(seconds * RATE)):
            time.sleep(max(0.0, start + n / RATE - time.monotonic()))
            futures.append(senders.submit(push, url, "spooled"))
        sent = [future.result() for future in futures]
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert (ready.status_code, ready.json()["status"]) == (200, "degraded")
    assert ready.json()["spool"]["depth"] == len(sent)
    return sent


@contextmanager
def drain_held(spool: Spool) -> Iterator[None]:
    """Hold the spool's drain lock, so that no receiver process drains until the block ends."""
    with open(os.path.join(spool.directory, DRAIN_LOCK), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def kill_the_drainer(spool: Spool) -> None:
    """SIGKILL the receiver process that takes the drain lock next, as soon as it holds it."""
    inode = os.stat(os.path.join(spool.directory, DRAIN_LOCK)).st_ino
    deadline = time.monotonic() + DEADLINE
    while not (holders := lock_holders(inode)):
        assert time.monotonic() < deadline, "no receiver process took the drain lock"
        time.sleep(0.001)
    os.kill(holders[0], signal.SIGKILL)


def lock_holders(inode: int) -> list[int]:
    """Pids holding a flock on the file with `inode` (from /proc/locks)."""
    found = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if (
            "->" not in fields
            and fields[1] == "FLOCK"
            and fields[3] == "WRITE"
            and int(fields[5].split(":")[-1]) == inode
        ):
            found.append(int(fields[4]))
    return found
