"""A background thread in each receiver process that feeds the spool back through the intake.

Every `interval` it looks whether the spool holds anything; if so, and no other process or thread
drains it, and Redis answers a PING, it runs each record through `Intake.process` in arrival
order, recording progress after each. A record the intake cannot take for want of Redis stops
the pass where it is; the next pass starts there. Dedupe makes a record run twice (after a crash
between processing and recording progress) a duplicate, never a second job.
"""

from __future__ import annotations

import os
import threading

import redis
import structlog

from receiver.intake import Intake
from receiver.metrics import SPOOL_DRAINED
from shared.spool import Spool

log = structlog.get_logger(__name__)

INTERVAL = 0.5


class SpoolDrainer:
    """One per receiver process; `start` is idempotent and safe to call after a fork."""

    def __init__(
        self, spool: Spool, intake: Intake, client: redis.Redis[bytes], interval: float = INTERVAL
    ) -> None:
        self.spool = spool
        self.intake = intake
        self.redis = client
        self.interval = interval
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="spool-drainer", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.drain()
            except Exception:
                log.exception("spool.drain_failed")

    def drain(self) -> int:
        """Drain until caught up or Redis fails again; how many records it took off the spool."""
        if not self.spool.has_pending():
            return 0
        with self.spool.draining() as mine:
            if not mine or not self._redis_answers():
                return 0
            drained = 0
            while self.spool.has_pending():  # deliveries spooled behind the others meanwhile
                taken, paused = self._pass()
                drained += taken
                if paused:
                    break
            self.spool.compact()
            return drained

    def _pass(self) -> tuple[int, bool]:
        """Run what is pending now through the intake; (records taken, whether Redis failed)."""
        taken = 0
        for next_offset, delivery in self.spool.pending():
            if delivery is not None:
                structlog.contextvars.clear_contextvars()
                answer = self.intake.process(
                    delivery.headers, delivery.body, delivery.received_at, delivery.delivery_id
                )
                if answer.outcome == "unavailable":
                    log.warning("spool.drain_paused", **answer.log_fields)
                    return taken, True
                SPOOL_DRAINED.labels(answer.outcome).inc()
                log.info("spool.drained", outcome=answer.outcome, status=answer.status)
                taken += 1
            self.spool.commit(next_offset)
        return taken, False

    def _redis_answers(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False
