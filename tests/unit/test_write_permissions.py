"""`permissions` gates the relay's writes: the decision, the job flow, the sweep and hooks."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import fakeredis
import httpx
import pytest
from structlog.testing import capture_logs

from tests.conftest import KEYED, SEALER

os.environ.update(KEYED)  # the worker app loads its settings when imported, as in a worker
import workers.celery_app  # noqa: F401 (before the sweep, as in a worker)
from bbrelay import cli, hooks
from bbrelay.check import Checker
from shared.bitbucket.factory import build_client
from shared.config import ConfigError, load_settings
from shared.config.settings import (
    JobRule,
    PipelinesSettings,
    RelaySettings,
    RepositoryPermissions,
    WebhookSettings,
)
from shared.deliveries import DeliveryStore
from shared.followups import FollowUps
from shared.jobs.model import JobRequest
from shared.jobs.store import JobStore
from shared.permissions import conflicts, refusal
from shared.secret import Secret
from shared.teams.store import TeamStore
from shared.webhook_secrets import SecretRing
from tests.conftest import make_settings
from workers import job_flow, sweep
from workers.services import Services

# The Studio example's placeholder secrets load in development only.
DEVELOPMENT = {"BBRELAY_ENV": "development", "BBRELAY_VAR_DIR": tempfile.mkdtemp(prefix="bbrelay-")}
STUDIO_EXAMPLE = Path(__file__).parents[1] / "fixtures" / "values" / "studio-example.yaml"
COMMIT = "d7f300a32270053bdfd97a6d64113f58202c33e7"
STUDIO = RepositoryPermissions(
    default={"repository": "read", "pullrequest": "read"},
    repositories={"workspace/critical-repo": {"repository": "write", "pullrequest": "write"}},
)


def test_without_the_key_nothing_is_gated() -> None:
    assert refusal(None, "acme/data", "build status") is None


def test_a_repositorys_own_block_governs_it_and_what_a_block_does_not_name_is_read() -> None:
    refused = refusal(STUDIO, "acme/data", "build status")
    assert refused is not None
    assert (refused.repository, refused.permission, refused.level) == (
        "acme/data",
        "repository",
        "read",
    )
    assert refusal(STUDIO, "Workspace/Critical-Repo", "build status") is None
    assert refusal(STUDIO, "workspace/critical-repo", "pull request") is None
    trigger = refusal(STUDIO, "workspace/critical-repo", "pipeline trigger")
    assert trigger is not None
    assert (trigger.permission, trigger.level) == ("pipeline", "read")
    admin = RepositoryPermissions(default={"pipeline": "admin"})
    assert refusal(admin, "acme/data", "pipeline trigger") is None
    assert refusal(admin, "acme/data", "webhook") is not None


def test_the_studio_example_warns_of_build_statuses_and_triggers_it_forbids() -> None:
    found = conflicts(load_settings(STUDIO_EXAMPLE, environ=DEVELOPMENT).bitbucket)
    assert any(
        "permissions.default: repository: read" in line and "buildStatus.enabled" in line
        for line in found
    )
    assert any("pipeline: read" in line and "dataChange" in line for line in found)


class Recorder:
    """A fake Bitbucket Cloud answering reads, recording every write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"values": [], "page": 1, "pagelen": 100})
        self.writes.append(request.url.path)
        answer = {"uuid": "{p-1}", "build_number": 1, "state": {"name": "PENDING"}}
        return httpx.Response(201, json=answer)


def services_with(permissions: RepositoryPermissions, recorder: Recorder) -> Services:
    rule = JobRule("data", ("push",), "dataProcessing", "pipeline")
    settings = make_settings(
        token=Secret("t0ken"),
        permissions=permissions,
        jobs=(rule,),
        pipelines=PipelinesSettings(enabled=True),
    )
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    bitbucket = build_client(
        settings.bitbucket, client, SEALER, transport=httpx.MockTransport(recorder)
    )
    return Services(
        settings=settings,
        redis=client,
        deliveries=DeliveryStore(client),
        jobs=JobStore(client, SEALER),
        follow_ups=FollowUps(client),
        teams=TeamStore(client),
        bitbucket=bitbucket,
        patient_bitbucket=bitbucket,
    )


def create_job(services: Services, repository: str) -> str:
    request = JobRequest(
        job_id=f"job-{repository}",
        rule="data",
        runner="pipeline",
        context="dataProcessing",
        product="cloud",
        repository=repository,
        commit=COMMIT,
        ref="refs/heads/main",
        branch="main",
        event_key="repo:push",
        delivery_id="d-1",
    )
    services.jobs.create(request)
    return request.job_id


def test_a_trigger_without_pipeline_write_is_not_sent_and_the_job_says_why() -> None:
    recorder = Recorder()
    services = services_with(RepositoryPermissions(default={"repository": "write"}), recorder)
    job_id = create_job(services, "acme/data")

    with capture_logs() as logs:
        job_flow.run_job(services, job_id, lambda *_: None)

    job = services.jobs.get(job_id)
    assert job is not None
    assert job.state == "FAILED"
    assert "pipeline trigger not sent" in job.description
    assert "acme/data pipeline: read" in job.description
    assert not any("/pipelines" in path for path in recorder.writes)
    assert recorder.writes == [f"/2.0/repositories/acme/data/commit/{COMMIT}/statuses/build"]
    refused = [entry for entry in logs if entry["event"] == "permissions.write_refused"]
    assert refused[0]["repository"] == "acme/data"
    assert refused[0]["permission"] == "pipeline"


def test_a_build_status_without_repository_write_is_not_sent_and_the_sweep_lets_it_be() -> None:
    recorder = Recorder()
    allowed = {"repository": "write", "pipeline": "write"}
    permissions = RepositoryPermissions(
        default={"pipeline": "write"}, repositories={"acme/allowed": allowed}
    )
    services = services_with(permissions, recorder)
    refused_id = create_job(services, "acme/data")
    allowed_id = create_job(services, "acme/allowed")

    with capture_logs() as logs:
        for job_id in (refused_id, allowed_id):
            job_flow.run_job(services, job_id, lambda *_: None)

    refused = services.jobs.get(refused_id)
    assert refused is not None
    assert refused.state == "INPROGRESS"
    assert refused.status_posted is None
    assert refused.description.startswith("build status not sent")
    assert "acme/data repository: read" in refused.description
    statuses = [path for path in recorder.writes if path.endswith("/statuses/build")]
    assert statuses == [f"/2.0/repositories/acme/allowed/commit/{COMMIT}/statuses/build"]
    logged = [entry for entry in logs if entry["event"] == "permissions.write_refused"]
    assert [(e["repository"], e["permission"]) for e in logged] == [("acme/data", "repository")]

    services.jobs.advance(refused_id, "SUCCESSFUL")
    job_flow.sync_status(services, refused_id)
    swept = sweep.sweep(services, lambda *_: None, now=time.time() + 3600)
    assert (swept["post_status"], swept["forget"]) == (0, 1)
    assert recorder.writes.count(statuses[0]) == 1


def test_hooks_are_not_created_or_moved_without_repository_write() -> None:
    recorder = Recorder()
    permissions = RepositoryPermissions(repositories={"acme/open": {"repository": "admin"}})
    settings = dataclasses.replace(
        services_with(permissions, recorder).settings,
        relay=RelaySettings(public_url="https://relay.example.com"),
    )
    bitbucket = dataclasses.replace(
        settings.bitbucket,
        repositories=dataclasses.replace(
            settings.bitbucket.repositories, allow=("acme/open", "acme/closed")
        ),
        webhooks=WebhookSettings(events=("repo:push",)),
    )
    settings = dataclasses.replace(settings, bitbucket=bitbucket)
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    api = build_client(bitbucket, client, SEALER, transport=httpx.MockTransport(recorder))

    with capture_logs() as logs:
        lines = hooks.install(api, settings, SecretRing(client, SEALER), dry_run=False)

    assert recorder.writes == ["/2.0/repositories/acme/open/hooks"]
    closed = next(line for line in lines if line.startswith("acme/closed"))
    assert "create refused: webhook not sent" in closed
    assert "repository: read" in closed
    assert [(e["repository"], e["permission"]) for e in logs if "write_refused" in e["event"]] == [
        ("acme/closed", "repository")
    ]


@pytest.mark.parametrize("level", ["none", "maybe"])
def test_a_permission_level_that_is_not_read_write_or_admin_is_refused_at_load(
    tmp_path: Path, level: str
) -> None:
    permissions = {"default": {"repository": level}}
    path = tmp_path / "values.yaml"
    path.write_text(json.dumps({"global": {"git": {"bitbucket": {"permissions": permissions}}}}))
    with pytest.raises(ConfigError, match=r"permissions\.default\.repository"):
        load_settings(path, environ={})


def test_bbrelay_config_and_check_warn_of_features_the_permissions_forbid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {"BBRELAY_CONFIG": str(STUDIO_EXAMPLE), **DEVELOPMENT}
    assert cli._config(argparse.Namespace(), environ) == 0
    printed = capsys.readouterr().out
    assert "warning     global.git.bitbucket.permissions.default: repository: read" in printed

    settings = load_settings(
        STUDIO_EXAMPLE, environ={"BBRELAY_REDIS_URL": "redis://127.0.0.1:1", **DEVELOPMENT}
    )
    lines = Checker(settings).permissions()
    assert {line.status for line in lines} == {"warn"}
    assert any("buildStatus.enabled" in line.detail for line in lines)
