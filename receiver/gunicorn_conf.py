"""gunicorn settings for the receiver (Procfile `web`); override with GUNICORN_* flags.

Threads, not sync workers: a sync worker is held by one connection until its body is read
(or `timeout` kills the worker), so as many slow clients as workers stall every delivery.
gunicorn's gthread worker keeps idle and kept-alive connections in its poller, and a request
holds one of `threads` only once its first bytes arrived; a body dribbled byte by byte still
holds that thread until it ends (gunicorn 27 has no deadline on body reads), so the pool is
`workers x threads` slow bodies deep. In front of the open internet, run the receiver behind a
proxy that buffers whole requests (README, Operations).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from prometheus_client import multiprocess

from shared.celery_config import BROKER_POOL_LIMIT

bind = os.environ.get("BBRELAY_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = 8  # each keeps one broker producer: at most BROKER_POOL_LIMIT
worker_connections = 200  # open connections per worker, idle and kept-alive ones included
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 4094  # a webhook's request line is short
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = "warning"


def post_worker_init(worker: Any) -> None:
    """Each worker drains the shared spool from a thread of its own (one at a time, by lock);
    other apps served with this configuration (the benches' floors) have no spool."""
    drainer = getattr(worker.wsgi, "extensions", {}).get("bbrelay.drainer")
    if drainer is not None:
        drainer.start()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's metric files so /metrics only adds up the living."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_starting(server: Any) -> None:
    """Refuse more threads than broker producers: the extra threads would wait for one."""
    if server.cfg.threads > BROKER_POOL_LIMIT:
        raise SystemExit(
            f"gunicorn: --threads {server.cfg.threads} exceeds the receiver's "
            f"{BROKER_POOL_LIMIT} broker connections per worker; use at most {BROKER_POOL_LIMIT}"
        )
