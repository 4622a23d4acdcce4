"""Dry-run: without credentials, log each call that would be made and answer harmlessly.

Each answer has the shape the real API gives for that call (a page, a bare list, an object or no
content), so every verb of the client works on it; lists are empty and writes echo what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import structlog

from shared.config.settings import Product
from shared.event_keys import SERVER_EVENT_KEYS

log = structlog.get_logger(__name__)

_COMMIT = re.compile(r"/commits?/([0-9a-fA-F]+)$")
_NO_CONTENT = object()
DRY_RUN = "dry-run"


class DryRunSender:
    """Answers every call itself, in the shapes of `product`'s API."""

    def __init__(self, product: Product) -> None:
        self.product: Product = product

    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        log.info("bitbucket.dry_run", method=method, url=url, group=group)
        request = httpx.Request(method, url, params=params)
        path = url.split("?", 1)[0].rstrip("/")
        if path.endswith("/whoami"):
            return httpx.Response(200, text=DRY_RUN, request=request)
        answer = _write(self.product, path, json) if method != "GET" else _read(self.product, path)
        if answer is _NO_CONTENT:
            return httpx.Response(204, request=request)
        return httpx.Response(200, json=answer, request=request)


def _write(product: Product, path: str, body: Any) -> Any:
    sent = dict(body) if isinstance(body, dict) else {}
    if path.endswith(("/builds", "/stopPipeline")):
        return _NO_CONTENT
    if path.endswith("/statuses/build"):
        return {"type": "build", **sent}
    if path.endswith("/pipelines"):
        return {"type": "pipeline", "uuid": "{dry-run}", "build_number": 0, "state": _PENDING}
    if product == "cloud":
        sent.pop("secret", None)
        return {"type": "webhook_subscription", "uuid": "{dry-run}", **sent, "secret_set": True}
    sent.pop("sslVerificationRequired", None)  # not in the real answer we hold
    return {"id": 0, **sent}


_PENDING = {"type": "pipeline_state_pending", "name": "PENDING"}
_COMPLETED = {
    "type": "pipeline_state_completed",
    "name": "COMPLETED",
    "result": {"type": "pipeline_state_completed_successful", "name": "SUCCESSFUL"},
}


def _read(product: Product, path: str) -> Any:
    commit = _COMMIT.search(path)
    if commit:
        sha = commit.group(1)
        if product == "cloud":
            return {"type": "commit", "hash": sha}
        return {"id": sha, "displayId": sha[:11]}
    if "/pipelines/" in path:
        return {"type": "pipeline", "uuid": "{dry-run}", "build_number": 0, "state": _COMPLETED}
    if path.endswith("/webhooks/latest/capabilities"):
        return {"application-webhooks": sorted(SERVER_EVENT_KEYS - {"diagnostics:ping"})}
    if path.endswith("/build/capabilities"):
        # capability names, as Atlassian's own Jenkins plugin reads them (BitbucketCICapabilities)
        return {"buildStatus": ["richBuildStatus", "cancelledStatus", "unknownStatus"]}
    if path.endswith("/user"):
        return {"type": "user", "uuid": "{dry-run}", "account_id": DRY_RUN, "display_name": DRY_RUN}
    if "/1.0/groups/" in path:
        return []
    if product == "cloud":
        return {"pagelen": 100, "size": 0, "page": 1, "values": []}
    return {"size": 0, "limit": 1000, "isLastPage": True, "values": [], "start": 0}
