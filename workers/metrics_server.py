"""Serve the worker's Prometheus metrics from its main process when a port is configured.

`BBRELAY_WORKER_METRICS_PORT` (and `BBRELAY_WORKER_METRICS_ADDRESS`, default 127.0.0.1) turn it
on. Prefork children write their samples to `PROMETHEUS_MULTIPROC_DIR`, which must be set before
the worker starts (as `bbrelay run` and the Procfile do); the server merges them.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import signals
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from shared.config.settings import RelaySettings

log = structlog.get_logger(__name__)


def registry(relay: RelaySettings) -> CollectorRegistry:
    if relay.metrics_dir:
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return REGISTRY


def start(relay: RelaySettings) -> int | None:
    """Start the exporter thread; returns the port, or None when not configured."""
    port, address = relay.worker_metrics_port, relay.worker_metrics_address
    if port is None:
        return None
    start_http_server(port, addr=address, registry=registry(relay))
    log.info("worker.metrics_listening", address=address, port=port)
    return port


def connect(relay: RelaySettings) -> None:
    def on_worker_init(**_: Any) -> None:
        start(relay)

    def on_child_exit(pid: int | None = None, **_: Any) -> None:
        if relay.metrics_dir and pid:
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

    signals.worker_init.connect(on_worker_init, weak=False)
    signals.worker_process_shutdown.connect(on_child_exit, weak=False)
