"""/healthz (process up), /readyz (Redis, config, dry-run) and /metrics."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from receiver.metrics import scrape
from shared.config.settings import Settings

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    settings: Settings = current_app.extensions["bbrelay.settings"]
    client: redis.Redis[bytes] = current_app.extensions["bbrelay.redis"]
    try:
        redis_ok = bool(client.ping())
    except redis.RedisError:
        redis_ok = False
    body = {
        "status": "ready" if redis_ok else "unavailable",
        "redis": "ok" if redis_ok else "unreachable",
        "config": settings.source or "defaults",
        "product": settings.bitbucket.product,
        "dry_run": settings.dry_run,
        "webhook_secrets": len(settings.bitbucket.webhook_secrets),
    }
    return jsonify(body), 200 if redis_ok else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    settings: Settings = current_app.extensions["bbrelay.settings"]
    client: redis.Redis[bytes] = current_app.extensions["bbrelay.redis"]
    return Response(scrape(settings.relay, client), content_type=CONTENT_TYPE_LATEST)
