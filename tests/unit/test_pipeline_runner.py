"""The pipeline runner's variables: every triggered run names its job."""

from __future__ import annotations

import dataclasses

from shared.bitbucket.client import JOB_ID_VARIABLE
from shared.config.settings import BitbucketSettings, JobRule, PipelineRunner, PipelinesSettings
from shared.jobs.model import JobRequest
from workers.runners.pipeline import variables

REQUEST = JobRequest(
    job_id="job-42",
    rule="data-processing",
    runner="pipeline",
    context="dataProcessing",
    product="cloud",
    repository="ws/repo",
    commit="d7f300a32270053bdfd97a6d64113f58202c33e7",
    ref="refs/heads/main",
    branch="main",
    event_key="repo:push",
    delivery_id="d-1",
)


def test_every_run_carries_the_job_id_in_a_readable_variable() -> None:
    rule = JobRule("data-processing", ("push",), "dataProcessing", "pipeline")
    sent = {v["key"]: (v["value"], v["secured"]) for v in variables(REQUEST, rule, _settings())}
    assert sent[JOB_ID_VARIABLE] == ("job-42", False)


def test_operator_rule_and_request_variables_cannot_override_or_secure_the_job_id() -> None:
    runner = PipelineRunner(variables={JOB_ID_VARIABLE: "rule"}, secured=(JOB_ID_VARIABLE, "KEY"))
    rule = JobRule("data-processing", ("push",), "dataProcessing", "pipeline", pipeline=runner)
    request = dataclasses.replace(REQUEST, variables={JOB_ID_VARIABLE: "request"})
    settings = _settings(custom_variables={JOB_ID_VARIABLE: "operator", "KEY": "k"})

    sent = {v["key"]: (v["value"], v["secured"]) for v in variables(request, rule, settings)}

    assert sent == {JOB_ID_VARIABLE: ("job-42", False), "KEY": ("k", True)}


def _settings(custom_variables: dict[str, str] | None = None) -> BitbucketSettings:
    pipelines = PipelinesSettings(enabled=True, custom_variables=custom_variables or {})
    return BitbucketSettings(pipelines=pipelines)
