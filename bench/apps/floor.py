"""Floor 2: verify the HMAC and hand the body to Celery with send_task, nothing else."""

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
    enqueuer.send(HANDLE_EVENT, [{"delivery_id": delivery, "size": len(body)}])
    return "queued", 202
