"""Signed Bitbucket Cloud `repo:push` deliveries at a fixed rate, open loop, from a thread.

Every delivery has its own X-Request-UUID and its own commit hash; one in ten pushes to the
pipeline branch. Sends are scheduled at their intended times whatever the answers; at most
MAX_IN_FLIGHT wait for an answer at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass

import httpx

from bench.receiver import WEBHOOK_PATH, Delivery
from bench.reliability.relay_stack import PIPELINE_BRANCH
from receiver.signature import sign
from shared.secret import Secret
from tests.integration.relay import WEBHOOK_SECRET, push_of

MAX_IN_FLIGHT = 200
TIMEOUT = httpx.Timeout(10.0, pool=30.0)
PIPELINE_EVERY = 10

# What the receiver answers a delivery it took on: queued in Redis, or spooled to disk.
ACCEPTED = frozenset({"queued", "spooled"})


@dataclass
class Sent:
    """One delivery and the receiver's answer (None: no answer, the connection failed)."""

    delivery_id: str
    commit: str
    pipeline: bool
    status: int | None = None
    queued: bool = False


def signed_push(tag: str, n: int, *, pipelines: bool = True) -> tuple[Sent, Delivery]:
    """The n-th push of a run; each PIPELINE_EVERY-th to the pipeline branch if `pipelines`."""
    commit = hashlib.sha256(f"chaos-{tag}-{n}".encode()).hexdigest()[:40]
    pipeline = pipelines and n % PIPELINE_EVERY == 0
    body = push_of(commit, PIPELINE_BRANCH if pipeline else "main")
    delivery_id = f"{{{uuid.uuid4()}}}"
    signature = sign(Secret(WEBHOOK_SECRET), body)
    return Sent(delivery_id, commit, pipeline), Delivery(delivery_id, signature, body)


class PushLoad:
    """`rate` deliveries a second for `duration` seconds; `sent` holds every outcome."""

    def __init__(self, url: str, rate: float, duration: float, tag: str) -> None:
        self.url = f"{url}{WEBHOOK_PATH}"
        self.rate = rate
        self.duration = duration
        self.tag = tag
        self.sent: list[Sent] = []
        self.ended_at: float | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        asyncio.run(self._send_all())
        self.ended_at = time.monotonic()

    async def _send_all(self) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=TIMEOUT) as client:
            started = time.monotonic()
            tasks = []
            for n in range(int(self.rate * self.duration)):
                await asyncio.sleep(max(0.0, started + n / self.rate - time.monotonic()))
                if self._stopping.is_set():
                    break
                sent, delivery = signed_push(self.tag, n)
                self.sent.append(sent)
                tasks.append(asyncio.create_task(self._send(client, sent, delivery)))
            await asyncio.gather(*tasks)

    async def _send(self, client: httpx.AsyncClient, sent: Sent, delivery: Delivery) -> None:
        try:
            answer = await client.post(self.url, content=delivery.body, headers=delivery.headers())
        except httpx.HTTPError:
            return
        sent.status = answer.status_code
        if answer.status_code == 202:
            try:
                sent.queued = answer.json().get("status") in ACCEPTED
            except ValueError:
                sent.queued = False
