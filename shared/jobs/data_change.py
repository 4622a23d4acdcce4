"""`POST /api/triggers/data-change`: the platform asks for the data-change pipeline to run."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from shared.access import event_refusal, matches_any
from shared.config.settings import BitbucketSettings
from shared.jobs.model import JobRequest
from shared.repository_names import FULL_NAME_RULE, is_valid_full_name

RULE = "data-change"
CONTEXT = "dataChange"


class TriggerRefused(ValueError):
    """The request cannot start a data-change run; the message says why."""


class RepositoryNotServed(TriggerRefused):
    """The repository is outside what the relay serves, or what the trigger may run on."""


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
    if not isinstance(repository, str):
        raise TriggerRefused("repository: required, as 'workspace/repo'")
    if not is_valid_full_name(repository):
        raise TriggerRefused(f"repository: {FULL_NAME_RULE}")
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
    """The job for a data-change run; an Idempotency-Key makes a repeated call one job.

    Raises RepositoryNotServed outside the access lists and `dataChange.repositories`, and
    TriggerRefused for a variable name the configuration does not let a request set."""
    config = settings.pipelines.data_change
    if not (settings.pipelines.enabled and config.enabled):
        raise TriggerRefused("pipelines.triggers.dataChange is not enabled")
    if settings.product != "cloud":
        raise TriggerRefused("Bitbucket Pipelines exists only on Bitbucket Cloud")
    check_repository(trigger.repository, settings)
    refused = sorted(set(trigger.variables) - set(config.allowed_variables))
    if refused:
        raise TriggerRefused(
            f"variables: {', '.join(refused)} may not be set by a request "
            "(pipelines.triggers.dataChange.allowedVariables lists those that may)"
        )
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


def check_repository(repository: str, settings: BitbucketSettings) -> None:
    """The repository and workspace access lists, then `dataChange.repositories` when set."""
    workspace = repository.split("/", 1)[0]
    refused = event_refusal(workspace, repository, settings.workspaces, settings.repositories)
    if refused is not None:
        raise RepositoryNotServed(f"repository: {refused}")
    allowed = settings.pipelines.data_change.repositories
    if allowed and not matches_any(repository, allowed):
        raise RepositoryNotServed(
            f"repository: {repository} is not in pipelines.triggers.dataChange.repositories"
        )
