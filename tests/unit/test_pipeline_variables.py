"""Variables of a Pipelines run: configured values win, and a secret's name is secret everywhere."""

from __future__ import annotations

from shared.config.settings import (
    BitbucketSettings,
    DataChangeTrigger,
    JobRule,
    PipelineRunner,
    PipelinesSettings,
)
from shared.jobs import data_change
from shared.jobs.model import JobRequest
from workers.runners.pipeline import variables

SETTINGS = BitbucketSettings(
    pipelines=PipelinesSettings(
        enabled=True,
        custom_variables={"STUDIO_URL": "https://studio.example.com", "API_KEY": "k3y"},
        data_change=DataChangeTrigger(enabled=True, variables={"TRIGGER": "data_change"}),
        secured_variables=("API_KEY",),
    ),
    jobs=(
        JobRule(
            name="deploy",
            on=("repo:push",),
            context="ci",
            runner="pipeline",
            pipeline=PipelineRunner(variables={"DEPLOY_TOKEN": "t0ken"}, secured=("DEPLOY_TOKEN",)),
        ),
    ),
)
REQUEST = JobRequest(
    job_id="data-change-1",
    rule=data_change.RULE,
    runner="pipeline",
    context=data_change.CONTEXT,
    product="cloud",
    repository="ws/data",
    commit=None,
    ref="refs/heads/main",
    branch="main",
    event_key="data-change",
    delivery_id="seed",
    variables={"STUDIO_URL": "https://evil.example", "TRIGGER": "mine", "DEPLOY_TOKEN": "x"},
)


def test_request_variables_never_replace_configured_ones_and_secrets_go_secured() -> None:
    sent = {v["key"]: (v["value"], v["secured"]) for v in variables(REQUEST, None, SETTINGS)}
    assert sent == {
        "API_KEY": ("k3y", True),
        "BBRELAY_JOB_ID": ("data-change-1", False),
        "DEPLOY_TOKEN": ("x", True),
        "STUDIO_URL": ("https://studio.example.com", False),
        "TRIGGER": ("data_change", False),
    }
