"""gunicorn settings for the receiver (Procfile `web`); override with GUNICORN_* flags."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from prometheus_client import multiprocess

bind = os.environ.get("BBRELAY_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2)))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
accesslog = None
errorlog = "-"
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    """Each worker drains the shared spool from a thread of its own (one at a time, by lock)."""
    worker.wsgi.extensions["bbrelay.drainer"].start()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's metric files so /metrics only adds up the living."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
