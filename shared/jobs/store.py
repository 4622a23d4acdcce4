"""Job records in Redis: created once per commit and rule, claimed once to start, moved forward."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import redis

from shared.jobs.model import STATE_RANK, Job, JobRequest, request_from_json, request_to_json

PREFIX = "bbrelay"
JOBS_INDEX = f"{PREFIX}:jobs"
JOB_TTL = 30 * 24 * 3600
# A STARTING claim older than this belongs to a worker that died mid-call; it may be retaken.
STALE_START = 600.0


RELEASE_START = """
if redis.call('HGET', KEYS[1], 'state') == 'STARTING' then
  redis.call('HSET', KEYS[1], 'state', 'PENDING', 'rank', '0')
end
return 0
"""


def _script(name: str) -> str:
    return resources.files("shared").joinpath("lua", name).read_text()


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


class JobStore:
    """One Redis hash per job; every transition is one atomic script."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.redis = client
        self._create = client.register_script(_script("create_job.lua"))
        self._claim = client.register_script(_script("claim_job_start.lua"))
        self._advance = client.register_script(_script("advance_job.lua"))
        self._release = client.register_script(RELEASE_START)

    def create(self, request: JobRequest) -> bool:
        """Record a new PENDING job; False when this commit and rule already have one."""
        created = self._create(
            keys=[job_key(request.job_id), JOBS_INDEX],
            args=[request.job_id, f"{time.time():.6f}", JOB_TTL, request_to_json(request)],
        )
        return bool(created)

    def claim_start(self, job_id: str, owner: str, *, stale_after: float = STALE_START) -> bool:
        """PENDING -> STARTING for exactly one caller (or a claim left by a dead worker)."""
        claimed = self._claim(
            keys=[job_key(job_id)], args=[owner, f"{time.time():.6f}", repr(stale_after)]
        )
        return bool(claimed)

    def release_start(self, job_id: str) -> None:
        """Give a failed start back (STARTING -> PENDING) so the retry can run it."""
        self._release(keys=[job_key(job_id)])

    def advance(self, job_id: str, state: str, **fields: str) -> bool:
        """Move to `state` with `fields` unless the job is final or already further on."""
        flat = [item for pair in fields.items() for item in pair]
        applied = self._advance(
            keys=[job_key(job_id)],
            args=[state, STATE_RANK[state], f"{time.time():.6f}", *flat],
        )
        return bool(applied)

    def update_request(self, request: JobRequest) -> None:
        """Store what was learnt about the request (a resolved full commit hash)."""
        self.redis.hset(job_key(request.job_id), "request", request_to_json(request))

    def mark_posted(self, job_id: str, state: str) -> None:
        self.redis.hset(job_key(job_id), "status_posted", state)

    def get(self, job_id: str) -> Job | None:
        raw = self.redis.hgetall(job_key(job_id))
        return job_from_hash(raw) if raw else None

    def recent(self, limit: int = 20) -> list[Job]:
        ids = self.redis.zrevrange(JOBS_INDEX, 0, max(0, limit - 1))
        pipe = self.redis.pipeline()
        for raw_id in ids:
            pipe.hgetall(job_key(raw_id.decode()))
        return [job_from_hash(raw) for raw in pipe.execute() if raw]


def job_from_hash(raw: dict[bytes, bytes]) -> Job:
    values: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    return Job(
        request=request_from_json(values["request"]),
        state=values.get("state", "PENDING"),
        description=values.get("description", ""),
        external_id=values.get("external_id") or None,
        created_at=float(values.get("created_at", 0)),
        updated_at=float(values.get("updated_at", 0)),
        attempts=int(values.get("attempts", 0)),
        status_posted=values.get("status_posted") or None,
    )
