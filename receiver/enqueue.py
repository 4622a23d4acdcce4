"""Hand a normalised event to the workers by task name; the receiver never imports workers."""

from __future__ import annotations

from typing import Any, Protocol

from celery import Celery

from shared.celery_config import celery_config
from shared.settings import Settings
from shared.task_names import HANDLE_EVENT, QUEUE


class BrokerUnavailable(Exception):
    """The broker did not take the task; the receiver answers 503 so Bitbucket retries."""


class Enqueuer(Protocol):
    def enqueue(self, event: dict[str, Any], task_id: str) -> None: ...

    def send(self, name: str, args: list[Any]) -> None: ...


class CeleryEnqueuer:
    """Publishes tasks by name through Celery's own API."""

    def __init__(self, settings: Settings) -> None:
        self.app = Celery("bbrelay-receiver", set_as_current=False)
        self.app.conf.update(celery_config(settings))

    def enqueue(self, event: dict[str, Any], task_id: str) -> None:
        summary = f"({event.get('event_key')} {event.get('repository')})"
        self.send(HANDLE_EVENT, [event], task_id=task_id, argsrepr=summary)

    def send(
        self, name: str, args: list[Any], task_id: str | None = None, argsrepr: str | None = None
    ) -> None:
        """Publish by name; `argsrepr` spares Celery a repr of the whole event per message."""
        try:
            self.app.send_task(
                name,
                args=args,
                task_id=task_id,
                queue=QUEUE,
                argsrepr=argsrepr or repr(args)[:200],
                kwargsrepr="{}",
            )
        except Exception as exc:  # kombu raises OperationalError and redis errors alike
            raise BrokerUnavailable(str(exc)) from exc
