"""Dry-run: without credentials, log each call that would be made and answer harmlessly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

_COMMIT = re.compile(r"/commits?/([0-9a-fA-F]+)$")


class DryRunSender:
    """Answers every call itself; a list is empty, a write echoes what it was given."""

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
        return httpx.Response(200, json=_answer(method, url, json), request=request)


def _answer(method: str, url: str, body: Any) -> Any:
    if method != "GET":
        answer = dict(body) if isinstance(body, dict) else {}
        if url.rstrip("/").endswith("/pipelines"):
            answer |= {"uuid": "{dry-run}", "build_number": 0, "state": {"name": "PENDING"}}
        return answer | {"uuid": answer.get("uuid", "{dry-run}"), "id": 0}
    commit = _COMMIT.search(url)
    if commit:
        return {"hash": commit.group(1), "id": commit.group(1)}
    if url.endswith("/pipelines/"):
        return {"page": 1, "pagelen": 10, "size": 0, "values": []}  # Cloud's default pagelen
    if "/pipelines/" in url:
        state = {"name": "COMPLETED", "result": {"name": "SUCCESSFUL"}}
        return {"uuid": "{dry-run}", "build_number": 0, "state": state}
    if url.endswith("/build/capabilities"):
        return {"buildStatus": ["CANCELLED"]}
    if url.endswith("/user") or "whoami" in url:
        return {"display_name": "dry-run", "account_id": "dry-run", "name": "dry-run"}
    return {"values": [], "isLastPage": True, "size": 0}
