"""The receiving steps of DESIGN §5, from headers and raw body to an answer, without Flask."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
import structlog
from werkzeug.datastructures import Headers

from receiver.enqueue import BrokerUnavailable, Enqueuer
from receiver.metrics import SPOOL_APPENDED
from receiver.signature import verify
from shared.access import event_refusal
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.events import Event
from shared.payloads import HeaderItems, PayloadError, UnknownEventKey, parse_event
from shared.spool import KEPT_HEADERS, Spool, SpooledDelivery, SpoolFull
from shared.webhook_secrets import SecretRing

log = structlog.get_logger(__name__)

PING = "diagnostics:ping"


@dataclass(frozen=True)
class Answer:
    """What the view sends back, and the outcome counted in metrics and logs."""

    status: int
    body: dict[str, Any]
    outcome: str
    log_fields: dict[str, Any] = field(default_factory=dict)


class SpoolNotEmpty(Exception):
    """Deliveries wait in the spool: a new one queues behind them."""


class RingUnreadable(Exception):
    """Redis did not answer when the rotated webhook secrets were needed."""


# A delivery id becomes part of Redis keys: only UUID-like ids (Cloud sends `{uuid}`) pass.
_DELIVERY_ID_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_{}"
)
_DELIVERY_ID_MAX = 64


def delivery_id_from(headers: Headers) -> str:
    """Cloud sends X-Request-UUID, Server/DC X-Request-Id; without either, or with one that is
    not UUID-like (at most 64 letters, digits, `-`, `_`, `{`, `}`), make one up."""
    given = (headers.get("X-Request-UUID") or headers.get("X-Request-Id") or "").strip()
    if given and len(given) <= _DELIVERY_ID_MAX and _DELIVERY_ID_CHARACTERS.issuperset(given):
        return given
    made_up = f"gen-{uuid.uuid4()}"
    if given:
        log.warning("webhook.delivery_id_replaced", delivery_id=made_up, given_length=len(given))
    return made_up


class Intake:
    """Verify, normalise, filter, dedupe and enqueue one delivery; spool a verified one while
    Redis cannot take it."""

    def __init__(
        self,
        settings: Settings,
        store: DeliveryStore,
        enqueuer: Enqueuer,
        ring: SecretRing | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.store = store
        self.enqueuer = enqueuer
        self.secrets = settings.bitbucket.webhook_secrets
        self.ring = ring
        self.subscribed = frozenset(settings.bitbucket.webhooks.events)

    def receive(self, headers: Headers, body: bytes, received_at: float) -> Answer:
        if (headers.get("X-Event-Key") or "").strip() == PING:
            return Answer(200, {"status": "pong"}, "ignored", {"event_key": PING})
        verified = self._verified(body, headers.get("X-Hub-Signature"))
        if verified is None:
            return _unavailable(RingUnreadable("the rotated secrets could not be read"))
        if not verified:
            return Answer(401, {"error": "missing or invalid X-Hub-Signature"}, "bad_signature")
        delivery_id = delivery_id_from(headers)
        answer = self.process(headers, body, received_at, delivery_id, behind_spool=True)
        if answer.outcome == "unavailable" and self.spool is not None:
            return self._spooled(headers, body, received_at, delivery_id, answer)
        return answer

    def process(
        self,
        headers: HeaderItems,
        body: bytes,
        received_at: float,
        delivery_id: str,
        *,
        behind_spool: bool = False,
    ) -> Answer:
        """Everything after the signature check; the spool's drainer runs spooled ones here.

        `behind_spool`: while the spool holds deliveries, a new one is not enqueued but answered
        as unavailable, so that it is spooled behind them: nothing overtakes what waits there,
        and while Redis is down each request no longer waits for the broker to refuse it.
        """
        structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
        try:
            event = parse_event(headers, body, received_at=received_at, delivery_id=delivery_id)
        except UnknownEventKey as exc:
            return Answer(202, {"status": "ignored", "reason": str(exc)}, "ignored")
        except PayloadError as exc:
            error = {"error": "invalid payload", "field": exc.field, "reason": exc.reason}
            return Answer(400, error, "invalid", {"field": exc.field})
        structlog.contextvars.bind_contextvars(event_key=event.event_key, repo=event.repository)
        if event.event_key == PING:
            return Answer(200, {"status": "pong"}, "ignored")
        if self.subscribed and event.event_key not in self.subscribed:
            return Answer(202, {"status": "ignored", "reason": "event not subscribed"}, "ignored")
        refused = self._refusal(event)
        if refused is not None:
            return Answer(202, {"status": "filtered", "reason": refused}, "filtered")
        if behind_spool and self.spool is not None and self.spool.has_pending():
            return _unavailable(SpoolNotEmpty())
        return self._enqueue_once(event, body)

    def _spooled(
        self, headers: Headers, body: bytes, received_at: float, delivery_id: str, refused: Answer
    ) -> Answer:
        """Keep the verified delivery on disk for the drainer; 503 as before if it cannot."""
        assert self.spool is not None
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        try:
            self.spool.append(SpooledDelivery(delivery_id, kept, body, received_at))
        except (SpoolFull, OSError) as exc:
            log.error("webhook.spool_refused", reason=str(exc))
            return refused
        SPOOL_APPENDED.inc()
        cause = refused.log_fields.get("reason")
        return Answer(
            202, {"delivery": delivery_id, "status": "spooled"}, "spooled", {"cause": cause}
        )

    def _verified(self, body: bytes, signature: str | None) -> bool | None:
        """Configured secrets first; the rotation ring only when they do not verify.

        None when only the ring could tell and Redis cannot be read: Bitbucket retries a 503,
        while a 401 would lose a delivery signed with a rotated secret.
        """
        if verify(self.secrets, body, signature):
            return True
        if self.ring is None or not signature:
            return False
        try:
            return verify(self.ring.secrets(), body, signature)
        except redis.RedisError:
            return None

    def _refusal(self, event: Event) -> str | None:
        """Why the allow/block lists filter this event, or None when it may pass."""
        bitbucket = self.settings.bitbucket
        return event_refusal(
            event.workspace, event.repository, bitbucket.workspaces, bitbucket.repositories
        )

    def _enqueue_once(self, event: Event, body: bytes) -> Answer:
        """Claim, record and enqueue in one Redis round trip where the broker allows it."""
        body_sha = hashlib.sha256(body).hexdigest()
        task_id = str(uuid.uuid4())
        task = event.to_json()
        fields = {
            "event_key": event.event_key,
            "product": event.product,
            "repository": event.repository or "",
            "received_at": f"{event.received_at:.6f}",
            "task_id": task_id,
        }
        try:
            message = self.enqueuer.render(task, task_id)
            claim = self.store.claim(event.delivery_id, body_sha, body, fields, message)
        except (redis.RedisError, BrokerUnavailable) as exc:
            return _unavailable(exc)
        if not claim.is_new:
            answer = {"delivery": event.delivery_id, "status": "duplicate"}
            return Answer(200, answer, "duplicate", {"original": claim.delivery_id})
        if message is None:
            try:
                self.enqueuer.enqueue(task, task_id)
            except BrokerUnavailable as exc:
                self._release(event.delivery_id, body_sha)
                return _unavailable(exc)
        return Answer(202, {"delivery": event.delivery_id, "status": "queued"}, "accepted")

    def _release(self, delivery_id: str, body_sha: str) -> None:
        try:
            self.store.release(delivery_id, body_sha)
        except redis.RedisError:
            log.error("webhook.release_failed", reason="redis unreachable after claim")


def _unavailable(exc: Exception) -> Answer:
    body = {"error": "queue unavailable, retry later"}
    return Answer(503, body, "unavailable", {"reason": type(exc).__name__})
