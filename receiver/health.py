"""/healthz (process up), /readyz (Redis or the spool, config, dry-run) and /metrics."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from receiver.metrics import scrape
from shared.config.settings import Settings
from shared.spool import Spool

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
    spool: Spool = current_app.extensions["bbrelay.spool"]
    status, code = "ready", 200
    if not redis_ok:
        status, code = ("degraded", 200) if spool.writable() else ("unavailable", 503)
    elif spool.has_pending():
        status = "degraded"  # Redis is back and the spool is being drained
    body = {
        "status": status,
        "redis": "ok" if redis_ok else "unreachable",
        "config": settings.source or "defaults",
        "product": settings.bitbucket.product,
        "dry_run": settings.dry_run,
        "webhook_secrets": len(settings.bitbucket.webhook_secrets),
        "spool": _spool_stats(spool),
    }
    return jsonify(body), code


def _spool_stats(spool: Spool) -> dict[str, float] | str:
    try:
        return spool.stats().as_dict()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    settings: Settings = current_app.extensions["bbrelay.settings"]
    client: redis.Redis[bytes] = current_app.extensions["bbrelay.redis"]
    spool: Spool = current_app.extensions["bbrelay.spool"]
    return Response(scrape(settings.relay, client, spool), content_type=CONTENT_TYPE_LATEST)
