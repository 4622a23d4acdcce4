"""The jobs API: read a job, the platform's status reports, and data-change triggers."""

from __future__ import annotations

import dataclasses

import fakeredis
import pytest
from flask.testing import FlaskClient

from receiver import create_app
from shared.config.settings import (
    AccessLists,
    DataChangeTrigger,
    HttpRunner,
    JobRule,
    PipelineRunner,
    PipelinesSettings,
)
from shared.jobs.model import JobRequest
from shared.jobs.store import JobStore
from shared.secret import Secret
from shared.signing import job_token
from shared.task_names import POST_STATUS, START_JOB
from tests.conftest import SEALER, make_settings
from tests.recording_enqueuer import RecordingEnqueuer

AUTH = {"Authorization": "Bearer api-token"}
REQUEST = JobRequest(
    job_id="review-1",
    rule="review",
    runner="http",
    context="ci",
    product="server",
    repository="PRJ/repo",
    commit="208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e",
    ref="refs/heads/develop",
    branch="develop",
    event_key="pr:opened",
    delivery_id="d-1",
    pr_id=2,
)
PIPELINES = PipelinesSettings(
    enabled=True,
    data_change=DataChangeTrigger(
        enabled=True,
        branch="main",
        variables={"SECRET": "s3cret"},
        allowed_variables=("DATASET",),
    ),
)
RULES = (
    JobRule(
        name="review",
        on=("pr:opened",),
        context="ci",
        runner="http",
        http=HttpRunner(url="https://platform.example.com/jobs", secret=Secret("platform-secret")),
    ),
    JobRule(
        name="build",
        on=("repo:push",),
        context="ci",
        runner="pipeline",
        pipeline=PipelineRunner(secured=("DEPLOY_KEY",)),
    ),
)
# The job's own token, as its status_url carries it: HMAC of "review-1" under "platform-secret".
REPORT = f"/api/jobs/review-1/status?token={job_token('platform-secret', 'review-1')}"


@pytest.fixture
def client(server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer) -> FlaskClient:
    settings = make_settings(
        pipelines=PIPELINES,
        jobs=RULES,
        repositories=AccessLists(allow=("ws/*",), block=("ws/secret-*",)),
    )
    app = create_app(settings, enqueuer=enqueuer, redis_client=fakeredis.FakeRedis(server=server))
    return app.test_client()


@pytest.fixture
def store(server: fakeredis.FakeServer) -> JobStore:
    jobs = JobStore(fakeredis.FakeRedis(server=server), SEALER)
    jobs.create(REQUEST)
    jobs.advance("review-1", "INPROGRESS")
    return jobs


def test_a_job_is_shown_without_its_variable_values(client: FlaskClient, store: JobStore) -> None:
    store.create(dataclasses.replace(REQUEST, job_id="other", variables={"TOKEN": "hidden"}))
    answer = client.get("/api/jobs/other", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json is not None and answer.json["variables"] == ["TOKEN"]
    assert b"hidden" not in answer.data
    assert client.get("/api/jobs/nope", headers=AUTH).status_code == 404
    assert client.get("/api/jobs/other").status_code == 401


def test_a_report_moves_the_job_and_queues_its_status(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    answer = client.post(REPORT, json={"state": "SUCCESSFUL", "description": "ok"})
    assert answer.status_code == 200
    job = store.get("review-1")
    assert job is not None and (job.state, job.description) == ("SUCCESSFUL", "ok")
    assert enqueuer.tasks == [(POST_STATUS, ["review-1"])]


def test_a_late_report_cannot_move_a_finished_job_back(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    store.advance("review-1", "SUCCESSFUL")
    answer = client.post(REPORT, json={"state": "INPROGRESS"})
    assert answer.status_code == 409
    assert answer.json == {"error": "the job is already further on", "state": "SUCCESSFUL"}
    assert enqueuer.tasks == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"state": "DONE"}, "state: must be one of"),
        ({"state": "FAILED", "description": 3}, "description: must be a string"),
        (["FAILED"], "must be a JSON object"),
    ],
)
def test_a_bad_report_is_refused_with_the_reason(
    client: FlaskClient, store: JobStore, body: object, message: str
) -> None:
    answer = client.post(REPORT, json=body)
    assert answer.status_code == 400
    assert answer.json is not None and message in answer.json["error"]
    job = store.get("review-1")
    assert job is not None and job.state == "INPROGRESS"


def test_a_report_with_the_queue_down_is_503_and_the_state_is_kept(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    enqueuer.broken = True
    answer = client.post(REPORT, json={"state": "FAILED"})
    assert answer.status_code == 503
    job = store.get("review-1")
    assert job is not None and job.state == "FAILED"


def test_a_data_change_trigger_creates_one_job_per_idempotency_key(
    client: FlaskClient, server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    headers = {**AUTH, "Idempotency-Key": "change-42"}
    body = {"repository": "ws/data", "variables": {"DATASET": "cats"}}
    first = client.post("/api/triggers/data-change", json=body, headers=headers)
    again = client.post("/api/triggers/data-change", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json is not None and again.json is not None
    job_id = first.json["job"]
    assert again.json["job"] == job_id
    job = JobStore(fakeredis.FakeRedis(server=server), SEALER).get(job_id)
    assert job is not None
    assert (job.request.branch, job.request.variables) == ("main", {"DATASET": "cats"})
    assert enqueuer.tasks == [(START_JOB, [job_id]), (START_JOB, [job_id])]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "repository: required"),
        ({"repository": "ws/data", "extra": 1}, "unknown field(s): extra"),
        ({"repository": "ws/data", "variables": {"A": 1}}, "variables: must map"),
    ],
)
def test_a_bad_data_change_trigger_is_refused(
    client: FlaskClient, enqueuer: RecordingEnqueuer, body: object, message: str
) -> None:
    answer = client.post("/api/triggers/data-change", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json is not None and message in answer.json["error"]
    assert enqueuer.tasks == []


def test_the_data_change_trigger_is_off_unless_configured(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    app = create_app(
        make_settings(), enqueuer=enqueuer, redis_client=fakeredis.FakeRedis(server=server)
    )
    answer = app.test_client().post(
        "/api/triggers/data-change", json={"repository": "ws/data"}, headers=AUTH
    )
    assert answer.status_code == 400
    assert answer.json is not None and "not enabled" in answer.json["error"]


def test_an_api_token_alone_cannot_report_a_job_state(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    answer = client.post("/api/jobs/review-1/status", json={"state": "FAILED"}, headers=AUTH)
    assert answer.status_code == 401
    other = f"/api/jobs/review-1/status?token={job_token('platform-secret', 'review-2')}"
    assert client.post(other, json={"state": "FAILED"}, headers=AUTH).status_code == 401
    job = store.get("review-1")
    assert job is not None and job.state == "INPROGRESS"
    assert enqueuer.tasks == []


def test_the_job_token_may_come_in_a_header(client: FlaskClient, store: JobStore) -> None:
    token = job_token("platform-secret", "review-1")
    answer = client.post(
        "/api/jobs/review-1/status",
        json={"state": "FAILED"},
        headers={"X-Relay-Job-Token": token},
    )
    assert answer.status_code == 200


def test_a_job_run_by_bitbucket_pipelines_cannot_be_reported(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    pipeline_job = dataclasses.replace(REQUEST, job_id="build-1", rule="build", runner="pipeline")
    store.create(pipeline_job)
    token = job_token("platform-secret", "build-1")
    answer = client.post(f"/api/jobs/build-1/status?token={token}", json={"state": "FAILED"})
    assert answer.status_code == 403
    job = store.get("build-1")
    assert job is not None and job.state == "PENDING"
    assert enqueuer.tasks == []


def test_a_repeated_identical_report_answers_200(
    client: FlaskClient, store: JobStore, enqueuer: RecordingEnqueuer
) -> None:
    report = {"state": "SUCCESSFUL", "description": "ok"}
    assert client.post(REPORT, json=report).status_code == 200
    assert client.post(REPORT, json=report).status_code == 200
    other = client.post(REPORT, json={"state": "SUCCESSFUL", "description": "different"})
    assert other.status_code == 409
    assert enqueuer.tasks == [(POST_STATUS, ["review-1"]), (POST_STATUS, ["review-1"])]


@pytest.mark.parametrize(
    ("repository", "status"),
    [("ws/secret-keys", 403), ("elsewhere/data", 403), ("ws/..", 400), ("../x", 400)],
)
def test_a_data_change_trigger_runs_only_on_served_repositories(
    client: FlaskClient, enqueuer: RecordingEnqueuer, repository: str, status: int
) -> None:
    answer = client.post("/api/triggers/data-change", json={"repository": repository}, headers=AUTH)
    assert answer.status_code == status
    assert enqueuer.tasks == []


def test_a_data_change_trigger_keeps_to_its_own_repository_list(
    server: fakeredis.FakeServer, enqueuer: RecordingEnqueuer
) -> None:
    trigger = dataclasses.replace(PIPELINES.data_change, repositories=("ws/data-*",))
    pipelines = dataclasses.replace(PIPELINES, data_change=trigger)
    app = create_app(
        make_settings(pipelines=pipelines),
        enqueuer=enqueuer,
        redis_client=fakeredis.FakeRedis(server=server),
    )
    client = app.test_client()
    refused = client.post("/api/triggers/data-change", json={"repository": "ws/app"}, headers=AUTH)
    served = client.post(
        "/api/triggers/data-change", json={"repository": "ws/data-1"}, headers=AUTH
    )
    assert (refused.status_code, served.status_code) == (403, 202)


def test_a_data_change_request_sets_only_the_variables_the_config_allows(
    client: FlaskClient, enqueuer: RecordingEnqueuer
) -> None:
    body = {"repository": "ws/data", "variables": {"DATASET": "cats", "SECRET": "mine"}}
    answer = client.post("/api/triggers/data-change", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json is not None and "SECRET may not be set" in answer.json["error"]
    assert enqueuer.tasks == []
