"""JSON errors under /api/: HTTP errors as `{"error": ...}`, and Redis unreachable as 503."""

from __future__ import annotations

import redis
import structlog
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

log = structlog.get_logger(__name__)


def register(app: Flask) -> None:
    """Errors of /api/ routes answer JSON; elsewhere Flask's own pages stay."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        if not request.path.startswith("/api/"):
            return exc
        return jsonify({"error": exc.description or exc.name}), exc.code or 500

    @app.errorhandler(redis.RedisError)
    def redis_error(exc: redis.RedisError) -> ResponseReturnValue:
        log.error("api.redis_unavailable", path=request.path, error=type(exc).__name__)
        return jsonify({"error": "Redis is unavailable; try again"}), 503
