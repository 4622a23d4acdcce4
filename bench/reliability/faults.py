"""The faults of each scenario, injected on a schedule while the push load runs.

(a) SIGKILL a worker's pool children, then a whole worker (restarted ~1 s later), alternately
(b) Redis SIGTERM, later SIGKILL, each down ~3 s, restarted on the same port and data dir
(c) SIGKILL a gunicorn worker process (the arbiter starts another)
(d) malformed requests mixed with the good load
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.reliability.malformed import MalformedLoad
from bench.reliability.relay_stack import RelayStack

REDIS_DOWN = 3.0


@dataclass
class Plan:
    duration: float
    interval: float  # between kills in (a) and (c)
    malformed: int  # requests in (d)


@dataclass
class FaultLog:
    started: float = field(default_factory=time.monotonic)
    events: list[str] = field(default_factory=list)
    last_at: float | None = None
    malformed: MalformedLoad | None = None

    def note(self, text: str) -> None:
        now = time.monotonic()
        self.events.append(f"t={now - self.started:5.1f}s {text}")
        self.last_at = now
        print(f"  {self.events[-1]}", flush=True)


def _ticks(plan: Plan, log: FaultLog, stopping: threading.Event) -> Iterator[int]:
    """Sleep until each fault time (every `interval`, within the duration); yield its index."""
    n = 0
    while True:
        at = log.started + (n + 1) * plan.interval
        if at >= log.started + plan.duration or stopping.wait(max(0.0, at - time.monotonic())):
            return
        yield n
        n += 1


def worker_kills(stack: RelayStack, plan: Plan, log: FaultLog, stopping: threading.Event) -> None:
    for n in _ticks(plan, log, stopping):
        worker = stack.workers[(n // 2) % len(stack.workers)]
        if n % 2 == 0:
            children = worker.kill_children()
            log.note(f"SIGKILL {worker.name} pool children {children}")
        else:
            worker.kill()
            log.note(f"SIGKILL {worker.name} (whole process group), restarted in ~1 s")


def redis_restarts(stack: RelayStack, plan: Plan, log: FaultLog, stopping: threading.Event) -> None:
    for fraction, how in ((0.25, "SIGTERM"), (0.6, "SIGKILL")):
        if stopping.wait(max(0.0, log.started + fraction * plan.duration - time.monotonic())):
            return
        if how == "SIGTERM":
            stack.redis.terminate()
        else:
            stack.redis.kill()
        log.note(f"Redis {how}, down for {REDIS_DOWN:.0f} s")
        stopping.wait(REDIS_DOWN)
        stack.redis.start()
        log.note("Redis started again (same port, same AOF)")


def gunicorn_kills(stack: RelayStack, plan: Plan, log: FaultLog, stopping: threading.Event) -> None:
    for _ in _ticks(plan, log, stopping):
        children = stack.web.kill_children(limit=1)
        log.note(f"SIGKILL gunicorn worker {children}")


def malformed_requests(
    stack: RelayStack, plan: Plan, log: FaultLog, stopping: threading.Event
) -> None:
    port = urlsplit(stack.url).port
    assert port is not None
    log.malformed = MalformedLoad(port, plan.malformed, plan.duration)
    log.note(f"sending {plan.malformed} malformed requests over {plan.duration:.0f} s")
    log.malformed.run(stopping)
    log.note("malformed requests sent")


Scenario = Callable[[RelayStack, Plan, FaultLog, threading.Event], None]
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "a": ("worker SIGKILLs", worker_kills),
    "b": ("Redis restarts", redis_restarts),
    "c": ("gunicorn worker SIGKILLs", gunicorn_kills),
    "d": ("malformed requests", malformed_requests),
}
