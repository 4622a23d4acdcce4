"""The build status a job shows on its commit: key, name, url, description, product state."""

from __future__ import annotations

import hashlib

from shared.bitbucket.models import BuildState, BuildStatus
from shared.config.settings import Settings
from shared.jobs.model import Job

CLOUD_KEY_LIMIT = 40
# DC's build capability that allows the CANCELLED state (Atlassian's Jenkins plugin checks it).
CANCELLED_CAPABILITY = "cancelledStatus"
# DC stores at most 450 characters of a build status url.
SERVER_URL_LIMIT = 450


def status_key(context_key: str, product: str) -> str:
    """The context's key; on Cloud, longer than 40 characters becomes a readable prefix + hash."""
    if product != "cloud" or len(context_key) <= CLOUD_KEY_LIMIT:
        return context_key
    digest = hashlib.sha256(context_key.encode()).hexdigest()[:10]
    return f"{context_key[: CLOUD_KEY_LIMIT - 11]}-{digest}"


def product_state(state: str, product: str, capabilities: frozenset[str]) -> BuildState:
    """Our state in the product's words: DC says CANCELLED only where the server lists the
    `cancelledStatus` capability (`capabilities` are the names DC answers), else FAILED."""
    if state == "STOPPED" and product == "server":
        return "CANCELLED" if CANCELLED_CAPABILITY in capabilities else "FAILED"
    if state in ("INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"):
        return state  # type: ignore[return-value]
    return "INPROGRESS"


def status_url(job: Job, settings: Settings) -> str:
    """`buildStatus.url` with {job_id}, {repo} and {commit}; else the relay's own job page."""
    request = job.request
    template = settings.bitbucket.build_status.url
    if template:
        return (
            template.replace("{job_id}", request.job_id)
            .replace("{repo}", request.repository)
            .replace("{commit}", request.commit or "")
        )
    base = (settings.relay.public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/api/jobs/{request.job_id}"


def build_status(job: Job, settings: Settings, capabilities: frozenset[str]) -> BuildStatus:
    request = job.request
    contexts = settings.bitbucket.build_status.contexts
    context_key = contexts.get(request.context, request.context)
    description = job.description or settings.bitbucket.build_status.description
    url = status_url(job, settings)
    refname = request.refname
    if request.product == "server":
        # DC files a status under its `ref` (push jobs too) and keeps at most 450 url characters
        # https://developer.atlassian.com/server/bitbucket/rest/v920/api-group-builds-and-deployments/
        refname = refname or request.ref
        url = url[:SERVER_URL_LIMIT]
    return BuildStatus(
        state=product_state(job.state, request.product, capabilities),
        key=status_key(context_key, request.product),
        name=f"{context_key} ({request.rule})",
        url=url,
        description=description[:255],
        refname=refname,
    )
