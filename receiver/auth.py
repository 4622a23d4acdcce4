"""Bearer tokens for /api/* routes, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from shared.config.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


def token_accepted(settings: Settings, header: str | None) -> bool:
    """True when the Authorization header carries one of the configured API tokens."""
    if not header or not header.startswith("Bearer "):
        return False
    offered = header.removeprefix("Bearer ").strip().encode()
    matched = False
    for token in settings.relay.api_tokens:
        matched |= hmac.compare_digest(offered, token.reveal().encode())
    return matched


def bearer_required(
    view: Callable[P, ResponseReturnValue],
) -> Callable[P, ResponseReturnValue]:
    """Answer 401 unless the request carries a configured API token."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        settings: Settings = current_app.extensions["bbrelay.settings"]
        if not settings.relay.api_tokens:
            message = "no API tokens configured: set BBRELAY_API_TOKEN or global.relay.apiTokens"
            return jsonify({"error": message}), 401
        if not token_accepted(settings, request.headers.get("Authorization")):
            return jsonify({"error": "missing or invalid bearer token"}), 401
        return view(*args, **kwargs)

    return guarded
