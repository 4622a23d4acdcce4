"""Runner `http`: POST the job, signed, to the platform, which reports back to the relay."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from shared.bitbucket.errors import PermanentError, RetryableError
from shared.config.settings import HttpRunner, Settings
from shared.jobs.model import JobRequest
from shared.signing import job_token, signed_headers


class PlatformUnavailable(RetryableError):
    """The platform answered 5xx or could not be reached; Celery retries."""


class PlatformRejected(PermanentError):
    """The platform refused the job (4xx); retrying would not help."""


def job_document(request: JobRequest, settings: Settings, token: str) -> dict[str, Any]:
    """The job as the platform sees it; `status_url` carries the job's own token."""
    base = (settings.relay.public_url or "http://127.0.0.1:8000").rstrip("/")
    query = urlencode({"token": token})
    return {
        "job_id": request.job_id,
        "rule": request.rule,
        "repository": request.repository,
        "source_repository": request.commit_repository,
        "commit": request.commit,
        "ref": request.ref,
        "branch": request.branch,
        "pr_id": request.pr_id,
        "event": request.event_key,
        "delivery_id": request.delivery_id,
        "variables": request.variables,
        "status_url": f"{base}/api/jobs/{request.job_id}/status?{query}",
    }


def start(
    http: httpx.Client, request: JobRequest, runner: HttpRunner, settings: Settings
) -> str | None:
    """Hand the job to the platform; its answer's `id` (if any) is the external id."""
    secret = runner.secret.reveal()
    document = job_document(request, settings, job_token(secret, request.job_id))
    body = json.dumps(document, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Relay-Job-Id": request.job_id,
        **signed_headers(secret, body),
    }
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
