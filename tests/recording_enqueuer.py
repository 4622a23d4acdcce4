"""An enqueuer for receiver tests: keeps what would go to Celery, can fail like a dead broker."""

from __future__ import annotations

from typing import Any

from receiver.enqueue import BrokerUnavailable
from shared.deliveries import QueuedMessage


class RecordingEnqueuer:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], str]] = []
        self.tasks: list[tuple[str, list[Any]]] = []
        self.broken = False

    def render(self, event: dict[str, Any], task_id: str) -> QueuedMessage | None:
        """Never renders: the intake publishes through `enqueue`, as with a TLS broker."""
        return None

    def enqueue(self, event: dict[str, Any], task_id: str) -> None:
        if self.broken:
            raise BrokerUnavailable("connection refused")
        self.sent.append((event, task_id))

    def send(self, name: str, args: list[Any]) -> None:
        if self.broken:
            raise BrokerUnavailable("connection refused")
        self.tasks.append((name, args))
