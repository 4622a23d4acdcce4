"""Job records in Redis: created once per commit and rule, claimed once to start, moved forward."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import redis

from shared.jobs.model import STATE_RANK, Job, JobRequest, request_from_dict
from shared.lua import script
from shared.sealing import Sealer

PREFIX = "bbrelay"
JOBS_INDEX = f"{PREFIX}:jobs"
# When the sweep next looks at each unfinished job (see workers/sweep.py).
DEADLINES = f"{PREFIX}:jobs:deadlines"
# Jobs whose tasks gave up, newest last: `bbrelay jobs --dead`, `bbrelay replay --job`.
DEAD_INDEX = f"{PREFIX}:jobs:dead"
JOB_TTL = 30 * 24 * 3600
DEFAULT_START_DEADLINE = 180.0


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


class JobStore:
    """One Redis hash per job; every transition is one atomic script. The request's variables
    (a data-change request's may be secrets) are kept sealed."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        sealer: Sealer,
        *,
        start_deadline: float = DEFAULT_START_DEADLINE,
    ) -> None:
        self.redis = client
        self.sealer = sealer
        self.start_deadline = start_deadline
        self._create = client.register_script(script("create_job"))
        self._claim = client.register_script(script("claim_job_start"))
        self._finish_start = client.register_script(script("finish_job_start"))
        self._release = client.register_script(script("release_job_start"))
        self._advance = client.register_script(script("advance_job"))

    def create(self, request: JobRequest) -> bool:
        """Record a new PENDING job; False when this commit and rule already have one."""
        now = time.time()
        created = self._create(
            keys=[job_key(request.job_id), JOBS_INDEX, DEADLINES],
            args=[
                request.job_id,
                f"{now:.6f}",
                JOB_TTL,
                self._request_json(request),
                f"{now + self.start_deadline:.6f}",
            ],
        )
        return bool(created)

    def claim_start(self, job_id: str, owner: str) -> bool:
        """PENDING -> STARTING for exactly one caller; the sweep looks again after the deadline."""
        now = time.time()
        claimed = self._claim(
            keys=[job_key(job_id), DEADLINES],
            args=[owner, f"{now:.6f}", job_id, f"{now + self.start_deadline:.6f}"],
        )
        return bool(claimed)

    def finish_start(self, job_id: str, owner: str, **fields: str) -> bool:
        """STARTING -> INPROGRESS for the claim's owner; False when it lost the claim."""
        flat = [item for pair in fields.items() for item in pair]
        applied = self._finish_start(
            keys=[job_key(job_id)], args=[owner, f"{time.time():.6f}", *flat]
        )
        return bool(applied)

    def release_start(self, job_id: str, owner: str) -> bool:
        """Give a start back (STARTING -> PENDING) so it can be run again; False if not held."""
        return bool(self._release(keys=[job_key(job_id)], args=[owner]))

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
        self.redis.hset(job_key(request.job_id), "request", self._request_json(request))

    def describe(self, job_id: str, description: str) -> None:
        """Say something about the job without changing its state (a write not sent)."""
        self.redis.hset(job_key(job_id), "description", description)

    def note_run_status(self, job_id: str, build_number: int) -> None:
        """Pipelines' own status webhook for run `build_number` arrived for this job."""
        self.redis.hset(job_key(job_id), "run_status_seen", str(build_number))

    def mark_posted(self, job_id: str, state: str) -> None:
        self.redis.hset(job_key(job_id), "status_posted", state)

    def mark_dead(self, job_id: str, error: str) -> None:
        """A task of this job gave up: keep it for `bbrelay replay`, out of the sweep's way."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(job_key(job_id), mapping={"dead": error, "dead_at": f"{time.time():.6f}"})
        pipe.zadd(DEAD_INDEX, {job_id: time.time()})
        pipe.zrem(DEADLINES, job_id)
        pipe.execute()

    def revive(self, job_id: str) -> bool:
        """Take a dead letter back into the sweep, due now; False when there is no such job."""
        if not self.redis.exists(job_key(job_id)):
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(job_key(job_id), "dead", "dead_at")
        pipe.zrem(DEAD_INDEX, job_id)
        pipe.zadd(DEADLINES, {job_id: time.time()})
        pipe.execute()
        return True

    def dead(self, limit: int = 100) -> list[str]:
        return [raw.decode() for raw in self.redis.zrevrange(DEAD_INDEX, 0, max(0, limit - 1))]

    def dead_jobs(self, limit: int = 20) -> list[Job]:
        """Dead letters, newest first."""
        return self._jobs(self.dead(limit))

    def due(self, now: float, limit: int) -> list[str]:
        """Jobs whose deadline has passed, oldest first."""
        raw = self.redis.zrangebyscore(DEADLINES, "-inf", now, start=0, num=limit)
        return [item.decode() for item in raw]

    def look_again(self, job_id: str, at: float) -> None:
        self.redis.zadd(DEADLINES, {job_id: at})

    def forget_deadline(self, job_id: str) -> None:
        self.redis.zrem(DEADLINES, job_id)

    def get(self, job_id: str) -> Job | None:
        raw = self.redis.hgetall(job_key(job_id))
        return self._job(raw) if raw else None

    def recent(self, limit: int = 20) -> list[Job]:
        ids = self.redis.zrevrange(JOBS_INDEX, 0, max(0, limit - 1))
        return self._jobs([raw.decode() for raw in ids])

    def _jobs(self, ids: list[str]) -> list[Job]:
        pipe = self.redis.pipeline()
        for job_id in ids:
            pipe.hgetall(job_key(job_id))
        return [self._job(raw) for raw in pipe.execute() if raw]

    def _request_json(self, request: JobRequest) -> str:
        """The request as stored: its variables sealed (an empty mapping stays as it is)."""
        data: dict[str, Any] = asdict(request)
        if request.variables:
            data["variables"] = self.sealer.seal(json.dumps(request.variables))
        return json.dumps(data, sort_keys=True)

    def _job(self, raw: dict[bytes, bytes]) -> Job:
        values: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
        data = json.loads(values["request"])
        if isinstance(data.get("variables"), str):
            data["variables"] = json.loads(self.sealer.unseal(data["variables"]))
        return job_from_values(values, request_from_dict(data))


def job_from_values(values: dict[str, Any], request: JobRequest) -> Job:
    return Job(
        request=request,
        state=values.get("state", "PENDING"),
        description=values.get("description", ""),
        external_id=values.get("external_id") or None,
        created_at=float(values.get("created_at", 0)),
        updated_at=float(values.get("updated_at", 0)),
        attempts=int(values.get("attempts", 0)),
        status_posted=values.get("status_posted") or None,
        start_owner=values.get("start_owner") or None,
        starting_at=float(values.get("starting_at", 0)),
        dead=values.get("dead") or None,
        timeout_at=float(values.get("timeout_at", 0)),
        build_number=int(values["build_number"]) if values.get("build_number") else None,
        run_status_seen=int(values["run_status_seen"]) if values.get("run_status_seen") else None,
    )
