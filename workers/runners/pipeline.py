"""Runner `pipeline`: trigger a Bitbucket Pipelines run and read where it stands."""

from __future__ import annotations

from typing import Any

from shared.bitbucket.client import JOB_ID_VARIABLE, BitbucketClient
from shared.bitbucket.models import Pipeline
from shared.config.settings import BitbucketSettings, JobRule
from shared.jobs import data_change
from shared.jobs.model import JobRequest

# Pipelines results (state COMPLETED) in the job's words; anything unfinished is INPROGRESS.
RESULT_STATES = {"SUCCESSFUL": "SUCCESSFUL", "STOPPED": "STOPPED"}


def target(request: JobRequest, rule: JobRule | None) -> dict[str, Any]:
    """A branch target with its commit, or a commit target; the rule's selector when set."""
    commit = {"type": "commit", "hash": request.commit} if request.commit else None
    body: dict[str, Any]
    if request.branch:
        body = {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": request.branch}
        if commit:
            body["commit"] = commit
    else:
        body = {"type": "pipeline_commit_target", "commit": commit}
    selector = rule.pipeline.selector if rule and rule.pipeline else None
    if selector:
        body["selector"] = dict(selector)
    return body


def variables(
    request: JobRequest, rule: JobRule | None, settings: BitbucketSettings
) -> list[dict[str, Any]]:
    """The request's variables, then `pipelines.customVariables`, then the rule's (or the
    data-change trigger's): a request never replaces a configured value. A name is sent secured
    when `pipelines.securedVariables` or any rule's `secured` lists it. Last, JOB_ID_VARIABLE
    (never secured, never overridden), by which a recovering worker finds a run it may already
    have started."""
    runner = rule.pipeline if rule else None
    trigger = settings.pipelines.data_change
    merged = {
        **request.variables,
        **settings.pipelines.custom_variables,
        **(runner.variables if runner else {}),
        **(trigger.variables if request.rule == data_change.RULE else {}),
        JOB_ID_VARIABLE: request.job_id,
    }
    own = set(runner.secured) if runner else set()
    secured = (secured_names(settings) | own) - {JOB_ID_VARIABLE}
    return [
        {"key": key, "value": value, "secured": key in secured}
        for key, value in sorted(merged.items())
    ]


def secured_names(settings: BitbucketSettings) -> frozenset[str]:
    """A secret's name is secret everywhere: every name any rule or the pipelines list secures."""
    names = set(settings.pipelines.secured_variables)
    for rule in settings.jobs:
        if rule.pipeline:
            names.update(rule.pipeline.secured)
    return frozenset(names)


def start(
    client: BitbucketClient, request: JobRequest, rule: JobRule | None, settings: BitbucketSettings
) -> Pipeline:
    return client.trigger_pipeline(
        request.repository, target(request, rule), variables(request, rule, settings)
    )


def job_state(pipeline: Pipeline) -> str:
    if not pipeline.finished:
        return "INPROGRESS"
    return RESULT_STATES.get(pipeline.result or "", "FAILED")
