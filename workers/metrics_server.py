"""Serve the worker's Prometheus metrics from its main process when a port is configured.

`BBRELAY_WORKER_METRICS_PORT` (and `BBRELAY_WORKER_METRICS_ADDRESS`, default 127.0.0.1) turn it
on. Prefork children write their samples to `PROMETHEUS_MULTIPROC_DIR`, which must be set before
the worker starts (as `bbrelay run` and the Procfile do); the server merges them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import structlog
from celery import signals
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

log = structlog.get_logger(__name__)


def registry(environ: Mapping[str, str]) -> CollectorRegistry:
    if environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return REGISTRY


def start(environ: Mapping[str, str]) -> int | None:
    """Start the exporter thread; returns the port, or None when not configured."""
    port = environ.get("BBRELAY_WORKER_METRICS_PORT")
    if not port:
        return None
    address = environ.get("BBRELAY_WORKER_METRICS_ADDRESS", "127.0.0.1")
    start_http_server(int(port), addr=address, registry=registry(environ))
    log.info("worker.metrics_listening", address=address, port=int(port))
    return int(port)


def connect() -> None:
    def on_worker_init(**_: Any) -> None:
        start(os.environ)

    def on_child_exit(pid: int | None = None, **_: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and pid:
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

    signals.worker_init.connect(on_worker_init, weak=False)
    signals.worker_process_shutdown.connect(on_child_exit, weak=False)
