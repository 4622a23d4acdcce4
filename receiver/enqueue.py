"""Hand a normalised event to the workers by task name; the receiver never imports workers."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Protocol

from celery import Celery
from kombu.messaging import Producer

from receiver.broker import PublishingChannel, transport_for
from shared.celery_config import celery_config
from shared.config.settings import Settings
from shared.deliveries import QueuedMessage
from shared.task_names import HANDLE_EVENT, QUEUE


class BrokerUnavailable(Exception):
    """The broker did not take the task; the receiver answers 503 so Bitbucket retries."""


class Enqueuer(Protocol):
    def render(self, event: dict[str, Any], task_id: str) -> QueuedMessage | None: ...

    def enqueue(self, event: dict[str, Any], task_id: str) -> None: ...

    def send(self, name: str, args: list[Any]) -> None: ...


class CeleryEnqueuer:
    """Publishes tasks by name through Celery's own API.

    Each thread keeps one producer from Celery's pool and declares the queue on it once,
    rather than taking a producer and re-declaring the queue for every message. A producer
    that failed to publish goes back to the pool, which reconnects it before its next use.
    So the pool (`broker_pool_limit`) must hold one per thread: a thread beyond it would wait
    for a connection for ever (kombu acquires a producer's connection without a timeout), and
    receiver.gunicorn_conf refuses to start with more threads than that.
    """

    def __init__(self, settings: Settings) -> None:
        self.app = Celery("bbrelay-receiver", set_as_current=False)
        config = celery_config(settings)
        transport = transport_for(config["broker_url"])
        self.app.conf.update(config, broker_transport=transport)
        self.renders = transport is not None
        self._local = threading.local()

    def render(self, event: dict[str, Any], task_id: str) -> QueuedMessage | None:
        """The event's task message as the broker would hold it, for the caller to push; None
        where this broker's transport cannot render (TLS, Sentinel): then `enqueue` it."""
        if not self.renders:
            return None
        try:
            channel: PublishingChannel = self._producer().channel
        except Exception as exc:  # no producer: the broker is down
            self._drop_producer()
            raise BrokerUnavailable(str(exc)) from exc
        channel.render_to, channel.rendered = QUEUE, None
        try:
            self.enqueue(event, task_id)
        finally:
            channel.render_to = None
        return channel.rendered

    def enqueue(self, event: dict[str, Any], task_id: str) -> None:
        self.send(HANDLE_EVENT, [event], task_id=task_id, argsrepr=summary_of(event))

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
                producer=self._producer(),
                declare=[],
            )
        except Exception as exc:  # kombu raises OperationalError and redis errors alike
            self._drop_producer()
            raise BrokerUnavailable(str(exc)) from exc

    def _producer(self) -> Producer:
        producer: Producer | None = getattr(self._local, "producer", None)
        if producer is None:
            timeout = self.app.conf.broker_pool_acquire_timeout  # as Celery's own acquire
            producer = self.app.producer_pool.acquire(block=True, timeout=timeout)
            try:
                producer.maybe_declare(self.app.amqp.queues[QUEUE])
            except Exception:
                producer.release()  # back to the pool, so a down broker cannot drain it
                raise
            self._local.producer = producer
        return producer

    def _drop_producer(self) -> None:
        producer: Producer | None = getattr(self._local, "producer", None)
        self._local.producer = None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.release()  # type: ignore[no-untyped-call]


def summary_of(event: dict[str, Any]) -> str:
    """What Flower shows for a delivery's task: event, repository, branch and delivery id."""
    short_id = str(event.get("delivery_id", ""))[:8]
    parts = [event.get("event_key"), event.get("repository"), event.get("branch")]
    return " ".join(str(part) for part in parts if part) + f" #{short_id}"
