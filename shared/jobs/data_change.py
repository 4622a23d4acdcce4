"""`POST /api/triggers/data-change`: the platform asks for the data-change pipeline to run."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from shared.jobs.model import JobRequest
from shared.settings import BitbucketSettings

RULE = "data-change"
CONTEXT = "dataChange"


class TriggerRefused(ValueError):
    """The request cannot start a data-change run; the message says why."""


@dataclass(frozen=True)
class DataChangeRequest:
    repository: str
    branch: str | None
    commit: str | None
    variables: dict[str, str]
    idempotency_key: str | None


def parse(body: Any, idempotency_key: str | None) -> DataChangeRequest:
    """Validate the JSON body: repository required; branch, commit, variables optional."""
    if not isinstance(body, dict):
        raise TriggerRefused("the body must be a JSON object")
    unknown = sorted(set(body) - {"repository", "branch", "commit", "variables"})
    if unknown:
        raise TriggerRefused(f"unknown field(s): {', '.join(unknown)}")
    repository = body.get("repository")
    if not isinstance(repository, str) or "/" not in repository:
        raise TriggerRefused("repository: required, as 'workspace/repo'")
    for name in ("branch", "commit"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise TriggerRefused(f"{name}: must be a string")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise TriggerRefused("variables: must map names to string values")
    return DataChangeRequest(
        repository, body.get("branch"), body.get("commit"), dict(variables), idempotency_key
    )


def job_request(trigger: DataChangeRequest, settings: BitbucketSettings) -> JobRequest:
    """The job for a data-change run; an Idempotency-Key makes a repeated call one job."""
    config = settings.pipelines.data_change
    if not (settings.pipelines.enabled and config.enabled):
        raise TriggerRefused("pipelines.triggers.dataChange is not enabled")
    if settings.product != "cloud":
        raise TriggerRefused("Bitbucket Pipelines exists only on Bitbucket Cloud")
    seed = trigger.idempotency_key or uuid.uuid4().hex
    digest = hashlib.sha256(f"{trigger.repository}\n{seed}".encode()).hexdigest()[:16]
    branch = trigger.branch or config.branch
    return JobRequest(
        job_id=f"{RULE}-{digest}",
        rule=RULE,
        runner="pipeline",
        context=CONTEXT,
        product=settings.product,
        repository=trigger.repository,
        commit=trigger.commit,
        ref=f"refs/heads/{branch}",
        branch=branch,
        event_key="data-change",
        delivery_id=seed,
        variables=trigger.variables,
    )
