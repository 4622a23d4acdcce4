"""The worker's recovery loop: sends due follow-ups every second and runs the sweep.

It runs in every worker's main process, so recovery needs no extra process and survives the
loss of any one worker; a Redis lock lets one sweep run at a time across hosts, and leasing
lets each due follow-up go out once per lease.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import structlog
from celery import signals

from shared.config.settings import Settings
from workers.scheduling import publish, schedule
from workers.services import Services, services
from workers.sweep import sweep

log = structlog.get_logger(__name__)

TICK = 1.0
SWEEP_LOCK = "bbrelay:sweep:lock"


def send_due_follow_ups(current: Services) -> int:
    """Publish every follow-up that is due; each stays leased until its task acknowledges it."""
    lease = current.settings.relay.recovery.follow_up_lease
    taken = current.follow_ups.claim_due(lease)
    for follow_up in taken:
        publish(follow_up)
    return len(taken)


def sweep_if_mine(current: Services, token: str) -> bool:
    """Run the sweep when this process holds (or takes) the cross-host lock."""
    interval = current.settings.relay.recovery.sweep_interval
    held = current.redis.set(SWEEP_LOCK, token, nx=True, px=int(interval * 2000))
    if not held and current.redis.get(SWEEP_LOCK) != token.encode():
        return False
    current.redis.pexpire(SWEEP_LOCK, int(interval * 2000))
    sweep(current, schedule)
    return True


class RecoveryLoop(threading.Thread):
    """A daemon thread: due follow-ups every tick, the sweep every `sweep_interval`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="bbrelay-recovery", daemon=True)
        self.interval = settings.relay.recovery.sweep_interval
        self.token = uuid.uuid4().hex
        self.stopping = threading.Event()
        self.failing = False

    def run(self) -> None:
        next_sweep = 0.0
        while not self.stopping.wait(TICK):
            try:
                current = services()
                send_due_follow_ups(current)
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.interval
                    sweep_if_mine(current, self.token)
            except Exception as exc:  # Redis down, broker down: say so once, keep looking
                if not self.failing:
                    log.warning("recovery.unavailable", error=f"{type(exc).__name__}: {exc}")
                self.failing = True
                continue
            if self.failing:
                log.info("recovery.available")
            self.failing = False


def connect(settings: Settings) -> None:
    """Start the loop when a worker is ready; stop it when the worker shuts down."""
    loop = RecoveryLoop(settings)

    def start(**_: Any) -> None:
        loop.start()

    def stop(**_: Any) -> None:
        loop.stopping.set()

    signals.worker_ready.connect(start, weak=False)
    signals.worker_shutdown.connect(stop, weak=False)
