"""What a scenario did to the deliveries and jobs, read from Redis and the fake Bitbucket."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from bench.reliability.push_load import Sent
from bench.reliability.relay_stack import RULE_NAME
from shared.deliveries import record_key
from shared.jobs.model import FINAL_STATES
from shared.jobs.planning import job_id
from shared.jobs.store import job_key
from tests.fakes.bitbucket_server import PipelineRun

# The repository of tests/fixtures/bitbucket/cloud/repo-push-signed.json, which every push uses.
REPOSITORY = "nfalco79/test-repos"
FINAL_DELIVERY = {"processed", "failed"}
POLL_SECONDS = 1.0


@dataclass
class Snapshot:
    """Delivery statuses and job states in Redis at one moment."""

    deliveries: Counter[str] = field(default_factory=Counter)
    jobs: Counter[str] = field(default_factory=Counter)
    jobs_missing: int = 0
    reachable: bool = True

    @property
    def settled(self) -> bool:
        unfinished = sum(n for s, n in self.deliveries.items() if s not in FINAL_DELIVERY)
        not_final = sum(n for s, n in self.jobs.items() if s not in FINAL_STATES)
        return self.reachable and unfinished == 0 and not_final == 0 and self.jobs_missing == 0


def snapshot(client: redis.Redis[bytes], sent: Sequence[Sent]) -> Snapshot:
    """The records of the accepted deliveries, and the jobs their pipeline pushes should have."""
    queued = [s for s in sent if s.queued]
    try:
        pipe = client.pipeline(transaction=False)
        for s in queued:
            pipe.hget(record_key(s.delivery_id), "status")
        statuses = [_text(v) for v in pipe.execute()]
        pipelines = [s for s in queued if s.pipeline]
        for s in pipelines:
            pipe.hget(job_key(job_id(RULE_NAME, REPOSITORY, s.commit)), "state")
        states = [_text(v) for v in pipe.execute()]
    except (redis.RedisError, OSError):
        return Snapshot(reachable=False)
    shot = Snapshot(Counter(statuses), Counter(s for s in states if s != "(none)"))
    delivered = [status for s, status in zip(queued, statuses, strict=True) if s.pipeline]
    shot.jobs_missing = sum(
        1
        for status, state in zip(delivered, states, strict=True)
        if status == "processed" and state == "(none)"
    )
    return shot


def wait_for_recovery(
    client: redis.Redis[bytes], sent: Sequence[Sent], since: float, limit: float
) -> float | None:
    """Seconds from `since` until everything is final, or None if not within `limit`."""
    while True:
        if snapshot(client, sent).settled:
            return time.monotonic() - since
        if time.monotonic() >= since + limit:
            return None
        time.sleep(POLL_SECONDS)


def duplicated_pipelines(runs: Sequence[PipelineRun]) -> int:
    """Runs the fake Bitbucket started beyond the first for one commit and selector (rule)."""
    started = Counter(
        (
            run.repository,
            run.body["target"]["commit"]["hash"],
            json.dumps(run.body["target"].get("selector"), sort_keys=True),
        )
        for run in runs
    )
    return sum(n - 1 for n in started.values())


def _text(value: bytes | None) -> str:
    return "(none)" if value is None else value.decode()
