"""Runner `http`: POST the job, signed, to the platform, which reports back to the relay."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from shared.bitbucket.errors import PermanentError, RetryableError
from shared.jobs.model import JobRequest
from shared.settings import HttpRunner, Settings

SIGNATURE_HEADER = "X-Relay-Signature"


class PlatformUnavailable(RetryableError):
    """The platform answered 5xx or could not be reached; Celery retries."""


class PlatformRejected(PermanentError):
    """The platform refused the job (4xx); retrying would not help."""


def job_document(request: JobRequest, settings: Settings) -> dict[str, Any]:
    base = (settings.relay.public_url or "http://127.0.0.1:8000").rstrip("/")
    return {
        "job_id": request.job_id,
        "rule": request.rule,
        "repository": request.repository,
        "commit": request.commit,
        "ref": request.ref,
        "branch": request.branch,
        "pr_id": request.pr_id,
        "event": request.event_key,
        "delivery_id": request.delivery_id,
        "variables": request.variables,
        "status_url": f"{base}/api/jobs/{request.job_id}/status",
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def start(
    http: httpx.Client, request: JobRequest, runner: HttpRunner, settings: Settings
) -> str | None:
    """Hand the job to the platform; its answer's `id` (if any) is the external id."""
    body = json.dumps(job_document(request, settings), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "X-Relay-Job-Id": request.job_id}
    if runner.secret is not None:
        headers[SIGNATURE_HEADER] = signature(runner.secret.reveal(), body)
    try:
        response = http.post(runner.url, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise PlatformUnavailable(f"platform unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise PlatformUnavailable(f"platform answered {response.status_code}")
    if response.status_code >= 400:
        raise PlatformRejected(
            f"platform refused job {request.job_id} ({response.status_code}): {response.text[:200]}"
        )
    try:
        answer = response.json()
    except ValueError:
        return None
    external = answer.get("id") if isinstance(answer, dict) else None
    return str(external) if external is not None else None
