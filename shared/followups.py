"""Follow-ups kept in Redis by due time, instead of countdown (ETA) messages in the broker.

A worker that dies while holding an ETA message loses it until the broker's visibility timeout
(hours) brings it back. Here a follow-up is a task message stored under a stable member name in
a sorted set by due time. When due, one dispatcher leases it (its score moves to the end of the
lease) and publishes it; the task acknowledges it when it returns. A follow-up whose task died is
due again when its lease ends, so a worker death costs a lease, not the visibility timeout.

Scheduling the same member again replaces the pending one: a job has one pipeline poll pending,
however often a poll was repeated.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from shared.lua import script

PREFIX = "bbrelay:followups"
DUE_INDEX = PREFIX
MESSAGES = f"{PREFIX}:messages"
TASK_IDS = f"{PREFIX}:task-ids"


@dataclass(frozen=True)
class FollowUp:
    """A task to publish: its name, arguments and the id it will run under."""

    member: str
    name: str
    args: list[Any]
    task_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "member": self.member,
                "name": self.name,
                "args": self.args,
                "kwargs": self.kwargs,
                "task_id": self.task_id,
                "retries": self.retries,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FollowUp:
        data = json.loads(text)
        return cls(
            member=data["member"],
            name=data["name"],
            args=list(data["args"]),
            task_id=data["task_id"],
            kwargs=dict(data.get("kwargs") or {}),
            retries=int(data.get("retries") or 0),
        )


def member_for(name: str, key: str) -> str:
    """The stable member of a follow-up: one pending per task name and key (a job id)."""
    return f"{name}|{key}"


def retry_member(task_id: str) -> str:
    """The member of a task's own retry: Celery keeps the task id across retries."""
    return f"retry|{task_id}"


class FollowUps:
    """The due index, the stored messages and who each was last scheduled as."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.redis = client
        self._claim = client.register_script(script("claim_due_follow_ups"))
        self._ack = client.register_script(script("ack_follow_up"))

    def schedule(self, follow_up: FollowUp, due: float) -> None:
        """Store the follow-up to be sent at `due` (epoch seconds), replacing a pending one."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(MESSAGES, follow_up.member, follow_up.to_json())
        pipe.hset(TASK_IDS, follow_up.member, follow_up.task_id)
        pipe.zadd(DUE_INDEX, {follow_up.member: due})
        pipe.execute()

    def claim_due(
        self, lease: float, *, limit: int = 100, now: float | None = None
    ) -> list[FollowUp]:
        """Take the due follow-ups, each leased for `lease` seconds to this caller."""
        now = time.time() if now is None else now
        taken = self._claim(keys=[DUE_INDEX, MESSAGES], args=[f"{now:.6f}", lease, limit])
        return [FollowUp.from_json(message) for message in taken]

    def ack(self, task_id: str, members: list[str]) -> int:
        """The task `task_id` returned: drop those of `members` it was the latest of."""
        if not members:
            return 0
        return int(self._ack(keys=[DUE_INDEX, MESSAGES, TASK_IDS], args=[task_id, *members]))

    def due_at(self, member: str) -> float | None:
        """When the follow-up is due (or its lease ends); None when there is none."""
        score = self.redis.zscore(DUE_INDEX, member)
        return None if score is None else float(score)

    def pending(self) -> int:
        return int(self.redis.zcard(DUE_INDEX))
