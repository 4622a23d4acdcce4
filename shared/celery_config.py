"""Celery settings both sides share (DESIGN §9): at-least-once, JSON only, prefetch 1."""

from __future__ import annotations

from typing import Any

from shared.config.settings import Settings
from shared.task_names import QUEUE, ROUTES

# Redis redelivers an unacknowledged task after this long; every time limit stays below it.
# No task waits in the broker: delayed runs are follow-ups (shared/followups.py).
VISIBILITY_TIMEOUT = 2 * 3600
TASK_TIME_LIMIT = 300
TASK_SOFT_TIME_LIMIT = 240
# Broker connections per process (Celery's default). kombu applies one limit to every pool in a
# process, so every app here uses the same; the receiver runs at most this many threads.
BROKER_POOL_LIMIT = 10


def celery_config(settings: Settings) -> dict[str, Any]:
    """Keyword settings for `Celery.conf.update`."""
    return {
        "broker_url": settings.relay.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_pool_limit": BROKER_POOL_LIMIT,
        "broker_connection_timeout": 2.0,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_timeout": 2.0,
            "socket_connect_timeout": 2.0,
        },
        "task_default_queue": QUEUE,
        "task_routes": ROUTES,
        "bbrelay_retry_base_delay": settings.relay.retry_base_delay,  # read by workers.retrying
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        # No task-sent event from the receiver: it would be a second publish per webhook.
        # Flower follows tasks from the workers' task-received events onwards.
        "task_send_sent_event": False,
        "worker_send_task_events": True,
        "worker_hijack_root_logger": False,
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
    }
