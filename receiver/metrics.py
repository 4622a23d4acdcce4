"""Prometheus metrics of the receiver, and the scrape that merges gunicorn's workers."""

from __future__ import annotations

from collections.abc import Iterator

import redis
import structlog
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.config.settings import RelaySettings
from shared.redis_metrics import RedisStateCollector
from shared.spool import Spool

log = structlog.get_logger(__name__)

OUTCOMES = (
    "accepted",
    "duplicate",
    "filtered",
    "ignored",
    "bad_signature",
    "invalid",
    "too_large",
    "unavailable",
    "spooled",
)

WEBHOOK_DELIVERIES = Counter(
    "bbrelay_webhook_deliveries_total",
    "Webhook deliveries received, by outcome.",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "bbrelay_webhook_request_duration_seconds",
    "Time to answer a webhook delivery.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SPOOL_APPENDED = Counter(
    "bbrelay_spool_spooled_total",
    "Verified deliveries written to the spool while Redis was unreachable.",
)
SPOOL_DRAINED = Counter(
    "bbrelay_spool_drained_total",
    "Spooled deliveries run through the intake again, by the intake's outcome.",
    ["outcome"],
)
for _outcome in OUTCOMES:
    WEBHOOK_DELIVERIES.labels(_outcome)
    SPOOL_DRAINED.labels(_outcome)


class SpoolCollector(Collector):
    """`bbrelay_spool_depth`, `bbrelay_spool_bytes`, `bbrelay_spool_oldest_age_seconds`, read
    from the spool's files at scrape time (one spool per host, whichever process scrapes)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.spool.stats()
        except OSError as exc:
            log.warning("metrics.spool_unreadable", error=str(exc))
            return
        yield GaugeMetricFamily(
            "bbrelay_spool_depth", "Deliveries waiting in the spool.", stats.depth
        )
        yield GaugeMetricFamily(
            "bbrelay_spool_bytes", "Bytes of deliveries waiting in the spool.", stats.bytes
        )
        yield GaugeMetricFamily(
            "bbrelay_spool_oldest_age_seconds",
            "Age of the oldest delivery waiting in the spool (0 when empty).",
            stats.oldest_age,
        )


def scrape(
    relay: RelaySettings, client: redis.Redis[bytes] | None = None, spool: Spool | None = None
) -> bytes:
    """The exposition text; merges every gunicorn worker's values in multiprocess mode, and
    adds the gauges read from Redis (queue depth, recent deliveries and jobs by state).

    prometheus_client itself reads PROMETHEUS_MULTIPROC_DIR, which is `relay.metrics_dir`.
    """
    if relay.metrics_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(DEFAULT_REGISTRY)
    state = CollectorRegistry()
    if client is not None:
        state.register(RedisStateCollector(client))
    if spool is not None:
        state.register(SpoolCollector(spool))
    return text + generate_latest(state)
