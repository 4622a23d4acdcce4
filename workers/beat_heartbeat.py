"""Beat writes when it started and a heartbeat to Redis so `bbrelay check` can tell it is alive."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
import structlog
from celery import signals

from shared.config.settings import Settings
from shared.redis import connect

HEARTBEAT_KEY = "bbrelay:beat:heartbeat"
STARTED_KEY = "bbrelay:beat:started"
INTERVAL = 10.0

log = structlog.get_logger(__name__)


def beat_loop(client: redis.Redis[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            client.set(HEARTBEAT_KEY, f"{time.time():.3f}", ex=int(INTERVAL * 6))
        except redis.RedisError as exc:
            log.warning("beat.heartbeat_failed", error=str(exc))
        stop.wait(INTERVAL)


def connect_heartbeat(settings: Settings) -> None:
    def on_beat_init(**_: Any) -> None:
        client = connect(settings.relay.redis_url)
        try:
            client.set(STARTED_KEY, f"{time.time():.3f}")
        except redis.RedisError as exc:
            log.warning("beat.start_not_recorded", error=str(exc))
        thread = threading.Thread(
            target=beat_loop,
            args=(client, threading.Event()),
            name="bbrelay-beat-heartbeat",
            daemon=True,
        )
        thread.start()

    signals.beat_init.connect(on_beat_init, weak=False)
