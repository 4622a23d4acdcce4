"""Gauges read from Redis at scrape time: queue depth, recent deliveries and jobs by state.

A prometheus_client custom collector: nothing is counted on the hot path, and every process that
scrapes sees the same numbers (the receiver serves them; adding them to the workers' scrape too
would count each twice in a sum). Deliveries and jobs are counted among the newest `sample` of
each index, so a scrape costs a bounded number of Redis reads whatever the traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import redis
import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.deliveries import RECENT_INDEX, record_key
from shared.jobs.store import JOBS_INDEX, job_key
from shared.task_names import QUEUES

log = structlog.get_logger(__name__)

SAMPLE = 1000


class RedisStateCollector(Collector):
    """`bbrelay_queue_depth`, `bbrelay_recent_deliveries{state}`, `bbrelay_recent_jobs{state}`."""

    def __init__(self, client: redis.Redis[bytes], *, sample: int = SAMPLE) -> None:
        self.redis = client
        self.sample = sample

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depths = {name: int(self.redis.llen(name)) for name in QUEUES}
            deliveries = self._states(RECENT_INDEX, record_key, "status")
            jobs = self._states(JOBS_INDEX, job_key, "state")
        except redis.RedisError as exc:
            log.warning("metrics.redis_unavailable", error=str(exc))
            return
        queue = GaugeMetricFamily(
            "bbrelay_queue_depth", "Tasks waiting on the Celery queue.", labels=["queue"]
        )
        for name, depth in depths.items():
            queue.add_metric([name], depth)
        yield queue
        yield _by_state(
            "bbrelay_recent_deliveries",
            f"Deliveries among the newest {self.sample}, by status.",
            deliveries,
        )
        yield _by_state(
            "bbrelay_recent_jobs", f"Jobs among the newest {self.sample}, by state.", jobs
        )

    def _states(self, index: str, key: Callable[[str], str], field: str) -> Counter[str]:
        ids = self.redis.zrevrange(index, 0, self.sample - 1)
        pipe = self.redis.pipeline(transaction=False)
        for raw_id in ids:
            pipe.hget(key(raw_id.decode()), field)
        return Counter(state.decode() for state in pipe.execute() if state is not None)


def _by_state(name: str, documentation: str, counts: Counter[str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["state"])
    for state, count in sorted(counts.items()):
        family.add_metric([state], count)
    return family
