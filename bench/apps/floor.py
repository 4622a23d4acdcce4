"""Floor 2: read the body, verify its HMAC, hand it to Celery with send_task; nothing else.

The least a working relay can do: the worker still needs the payload, so the raw body is the
task's argument. Same settings, Celery configuration and queue as the receiver.
"""

from __future__ import annotations

from flask import Flask, request

from receiver.enqueue import CeleryEnqueuer
from receiver.signature import verify
from shared.config import load_settings
from shared.task_names import HANDLE_EVENT

settings = load_settings()
enqueuer = CeleryEnqueuer(settings)
app = Flask(__name__)


@app.post("/api/webhooks/bitbucket")
def verify_and_send() -> tuple[str, int]:
    body = request.get_data()
    if not verify(settings.bitbucket.webhook_secrets, body, request.headers.get("X-Hub-Signature")):
        return "bad signature", 401
    delivery = request.headers.get("X-Request-UUID", "")
    enqueuer.send(
        HANDLE_EVENT, [{"delivery_id": delivery, "body": body.decode()}], argsrepr=delivery
    )
    return "queued", 202
