"""Slow clients against the real receiver under gunicorn with the project's settings."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest

from receiver.signature import sign
from shared.secret import Secret
from tests.conftest import fixture_bytes
from tests.integration.processes import receiver, service_env

pytestmark = pytest.mark.integration

BODY = fixture_bytes("cloud/repo-push-signed.json")
WEBHOOK_SECRET = "slow-clients-webhook-secret-0123456789"
SIGNATURE = sign(Secret(WEBHOOK_SECRET), BODY)
WORKERS = 2
SLOW_CLIENTS = 2 * WORKERS  # more than the sync workers there used to be


def _slow_client(host: str, port: int, stop: threading.Event, started: threading.Barrier) -> None:
    """Send complete headers, then the body one byte at a time until told to stop."""
    head = (
        f"POST /api/webhooks/bitbucket HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nX-Event-Key: repo:push\r\n"
        f"X-Hub-Signature: {SIGNATURE}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(head + BODY[:1])
        started.wait(timeout=60)
        for byte in BODY[1:-1]:
            if stop.wait(0.2):
                return
            sock.sendall(bytes([byte]))


def test_slow_bodies_do_not_stop_a_signed_delivery_from_being_accepted(
    redis_url: str, tmp_path: Path
) -> None:
    env = service_env(redis_url, tmp_path, {"BBRELAY_WEBHOOK_SECRET": WEBHOOK_SECRET})
    stop = threading.Event()
    with receiver(env, tmp_path, workers=WORKERS) as url:
        host, port = url.removeprefix("http://").split(":")
        started = threading.Barrier(SLOW_CLIENTS + 1)
        clients = [
            threading.Thread(target=_slow_client, args=(host, int(port), stop, started))
            for _ in range(SLOW_CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            started.wait(timeout=60)
            headers = {
                "X-Event-Key": "repo:push",
                "X-Request-UUID": "among-slow-clients",
                "X-Hub-Signature": SIGNATURE,
                "Content-Type": "application/json",
            }
            # Under sync workers this waited for gunicorn's 30 s timeout to kill a worker.
            answer = httpx.post(
                f"{url}/api/webhooks/bitbucket", content=BODY, headers=headers, timeout=20
            )
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
