"""Prometheus metrics of the receiver, and the scrape that merges gunicorn's workers."""

from __future__ import annotations

import redis
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from shared.config.settings import RelaySettings
from shared.redis_metrics import RedisStateCollector

OUTCOMES = (
    "accepted",
    "duplicate",
    "filtered",
    "ignored",
    "bad_signature",
    "invalid",
    "too_large",
    "unavailable",
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
for _outcome in OUTCOMES:
    WEBHOOK_DELIVERIES.labels(_outcome)


def scrape(relay: RelaySettings, client: redis.Redis[bytes] | None = None) -> bytes:
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
    if client is None:
        return text
    state = CollectorRegistry()
    state.register(RedisStateCollector(client))
    return text + generate_latest(state)
