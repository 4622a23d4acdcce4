"""Webhook delivery records in Redis: claimed once, then queued → processing → processed/failed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis

from shared.lua import script

PREFIX = "bbrelay"
RECENT_INDEX = f"{PREFIX}:deliveries"
FAILED_INDEX = f"{PREFIX}:deliveries:failed"
# When the sweep should look at each delivery not yet processed (see workers/sweep.py).
DEADLINES = f"{PREFIX}:deliveries:deadlines"
DEFAULT_DEADLINE = 60.0
RECORD_TTL = 7 * 24 * 3600

# How far a status is along; a record never moves to a lower rank.
STATUS_RANK = {"queued": 1, "processing": 2, "retrying": 2, "processed": 3, "failed": 3}


class Claim(Enum):
    """What claiming a delivery found."""

    NEW = 0
    DUPLICATE_ID = 1
    DUPLICATE_BODY = 2


@dataclass(frozen=True)
class QueuedMessage:
    """A task message as the broker's transport would push it, and the list it goes to."""

    queue_key: str
    payload: bytes


@dataclass(frozen=True)
class ClaimResult:
    outcome: Claim
    delivery_id: str

    @property
    def is_new(self) -> bool:
        return self.outcome is Claim.NEW


def record_key(delivery_id: str) -> str:
    return f"{PREFIX}:delivery:{delivery_id}"


def body_key(delivery_id: str) -> str:
    return f"{PREFIX}:delivery:{delivery_id}:body"


class DeliveryStore:
    """Claims deliveries for dedupe and keeps one record per delivery, all in Redis."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        dedupe_window: float = 86400.0,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.redis = client
        self.deadline = deadline
        self.window = max(1, int(dedupe_window))
        self.record_ttl = max(self.window, RECORD_TTL)
        self._claim = client.register_script(script("claim_delivery"))
        self._advance = client.register_script(script("advance_delivery"))

    def claim(
        self,
        delivery_id: str,
        body_sha256: str,
        body: bytes,
        fields: dict[str, str],
        message: QueuedMessage | None = None,
    ) -> ClaimResult:
        """Atomically claim a delivery, write its record as `queued` and push `message` (when
        given) onto its queue; one round trip."""
        now = time.time()
        record = {
            **fields,
            "delivery_id": delivery_id,
            "body_sha256": body_sha256,
            "status": "queued",
            "rank": str(STATUS_RANK["queued"]),
            "attempts": "0",
            "queued_at": f"{now:.6f}",
        }
        flat: list[str | bytes] = [item for pair in record.items() for item in pair]
        outcome, owner = self._claim(
            keys=[
                f"{PREFIX}:seen:id:{delivery_id}",
                f"{PREFIX}:seen:body:{body_sha256}",
                record_key(delivery_id),
                body_key(delivery_id),
                RECENT_INDEX,
                DEADLINES,
                message.queue_key if message else "",
            ],
            args=[
                delivery_id,
                self.window,
                self.record_ttl,
                f"{now:.6f}",
                body,
                f"{now + self.deadline:.6f}",
                message.payload if message else b"",
                *flat,
            ],
        )
        return ClaimResult(Claim(int(outcome)), owner.decode())

    def release(self, delivery_id: str, body_sha256: str) -> None:
        """Undo a claim whose enqueue failed, so Bitbucket's retry is accepted."""
        pipe = self.redis.pipeline()
        pipe.delete(
            f"{PREFIX}:seen:id:{delivery_id}",
            f"{PREFIX}:seen:body:{body_sha256}",
            record_key(delivery_id),
            body_key(delivery_id),
        )
        pipe.zrem(RECENT_INDEX, delivery_id)
        pipe.zrem(DEADLINES, delivery_id)
        pipe.execute()

    def advance(
        self, delivery_id: str, status: str, *, count_attempt: bool = False, **fields: Any
    ) -> bool:
        """Move a record to `status` unless it is already further on."""
        now = f"{time.time():.6f}"
        extra = {f"{status}_at": now, **{k: str(v) for k, v in fields.items()}}
        flat = [item for pair in extra.items() for item in pair]
        applied = self._advance(
            keys=[record_key(delivery_id), DEADLINES],
            args=[status, STATUS_RANK[status], "1" if count_attempt else "0", delivery_id, *flat],
        )
        if status == "failed" and applied:
            self.redis.zadd(FAILED_INDEX, {delivery_id: float(now)})
        elif status == "processed" and applied:
            self.redis.zrem(FAILED_INDEX, delivery_id)
        return bool(applied)

    def requeue(self, delivery_id: str, task_id: str) -> None:
        """Put a delivery back to `queued` for a replay (the one way a record moves back)."""
        now = f"{time.time():.6f}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            record_key(delivery_id),
            mapping={
                "status": "queued",
                "rank": str(STATUS_RANK["queued"]),
                "task_id": task_id,
                "replayed_at": now,
            },
        )
        pipe.hincrby(record_key(delivery_id), "replays", 1)
        pipe.zrem(FAILED_INDEX, delivery_id)
        pipe.zadd(DEADLINES, {delivery_id: float(now) + self.deadline})
        pipe.execute()

    def resent(self, delivery_id: str, task_id: str, look_again_at: float) -> None:
        """The sweep sent the delivery again as `task_id`; it looks again at `look_again_at`."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(record_key(delivery_id), "task_id", task_id)
        pipe.hincrby(record_key(delivery_id), "recoveries", 1)
        pipe.zadd(DEADLINES, {delivery_id: look_again_at})
        pipe.execute()

    def due(self, now: float, limit: int) -> list[str]:
        """Deliveries past their deadline, oldest first."""
        raw = self.redis.zrangebyscore(DEADLINES, "-inf", now, start=0, num=limit)
        return [item.decode() for item in raw]

    def look_again(self, delivery_id: str, at: float) -> None:
        self.redis.zadd(DEADLINES, {delivery_id: at})

    def forget_deadline(self, delivery_id: str) -> None:
        self.redis.zrem(DEADLINES, delivery_id)

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        """One delivery record, decoded, or None when unknown or expired."""
        raw = self.redis.hgetall(record_key(delivery_id))
        return decode_record(raw) if raw else None

    def recent(self, limit: int = 20, *, failed: bool = False) -> list[dict[str, Any]]:
        """The newest records first; `failed` lists dead letters only."""
        index = FAILED_INDEX if failed else RECENT_INDEX
        ids = self.redis.zrevrange(index, 0, max(0, limit - 1))
        pipe = self.redis.pipeline()
        for raw_id in ids:
            pipe.hgetall(record_key(raw_id.decode()))
        return [decode_record(raw) for raw in pipe.execute() if raw]

    def raw_body(self, delivery_id: str) -> bytes | None:
        """The exact bytes Bitbucket sent, kept for the dedupe window."""
        value = self.redis.get(body_key(delivery_id))
        return bytes(value) if value is not None else None


_FLOAT_FIELDS = {"received_at", "queued_at", "processing_at", "retrying_at", "processed_at"}


def decode_record(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """Turn a Redis hash into JSON-friendly types."""
    record: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    record.pop("rank", None)
    for key in list(record):
        if key in _FLOAT_FIELDS or key.endswith("_at"):
            record[key] = float(record[key])
    for key in ("attempts", "pr_id", "replays", "recoveries"):
        if record.get(key, "") != "":
            record[key] = int(record[key])
    return record
