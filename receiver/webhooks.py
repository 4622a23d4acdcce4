"""POST /api/webhooks/bitbucket: read the raw body, run the intake, answer, count, log."""

from __future__ import annotations

import time

import structlog
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from receiver.intake import Answer, Intake
from receiver.metrics import WEBHOOK_DELIVERIES, WEBHOOK_LATENCY

bp = Blueprint("webhooks", __name__)
log = structlog.get_logger(__name__)

# What a sender needs to know to get past an answer; Studio's documented curl test is unsigned.
HINTS: dict[str, dict[str, str]] = {
    "bad_signature": {
        "expected": "X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the "
        "configured webhook secret>",
        "try": "bbrelay send-test-event",
    }
}


@bp.post("/api/webhooks/bitbucket")
def receive_webhook() -> ResponseReturnValue:
    started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    intake: Intake = current_app.extensions["bbrelay.intake"]
    limit = intake.settings.relay.max_body_bytes
    try:
        body = _read_body(limit)
    except UnreadableBody as exc:
        answer = Answer(400, {"error": "the request body could not be read"}, "invalid", exc.fields)
    else:
        if body is None:
            answer = Answer(413, {"error": f"body larger than {limit} bytes"}, "too_large")
        else:
            answer = intake.receive(request.headers, body, received_at=time.time())
    WEBHOOK_DELIVERIES.labels(answer.outcome).inc()
    WEBHOOK_LATENCY.observe(time.perf_counter() - started)
    level = "warning" if answer.status >= 400 else "info"
    getattr(log, level)(f"webhook.{answer.outcome}", status=answer.status, **answer.log_fields)
    return jsonify(answer.body | HINTS.get(answer.outcome, {})), answer.status


class UnreadableBody(Exception):
    """The client's framing was broken (a bad chunk, a short body): its fault, so a 400."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.fields = {"reason": type(cause).__name__}


def _read_body(limit: int) -> bytes | None:
    """The raw body as sent, or None when it is larger than `limit`."""
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        body = request.stream.read(limit + 1)
    except RequestEntityTooLarge:
        return None
    except Exception as exc:  # the server's own parse errors (gunicorn's are not OSErrors)
        raise UnreadableBody(exc) from exc
    return body if len(body) <= limit else None
