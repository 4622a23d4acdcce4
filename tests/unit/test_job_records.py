"""Job records and the build status they show: created once, claimed once, never backwards."""

from __future__ import annotations

import dataclasses
import time

import redis

from shared.config.settings import BitbucketSettings, BuildStatusSettings, RelaySettings, Settings
from shared.jobs.model import Job, JobRequest
from shared.jobs.statuses import build_status, product_state, status_key
from shared.jobs.store import JobStore
from tests.conftest import SEALER

REQUEST = JobRequest(
    job_id="build-1",
    rule="build",
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


def test_a_job_is_created_once(fake_redis: redis.Redis[bytes]) -> None:
    store = JobStore(fake_redis, SEALER)
    assert store.create(REQUEST)
    assert not store.create(REQUEST)
    job = store.get("build-1")
    assert job is not None and job.state == "PENDING" and job.request == REQUEST
    assert [j.job_id for j in store.recent()] == ["build-1"]


def test_only_one_caller_claims_the_start_and_a_release_lets_a_retry_in(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = JobStore(fake_redis, SEALER)
    store.create(REQUEST)
    assert store.claim_start("build-1", "a")
    assert not store.claim_start("build-1", "b")
    assert not store.release_start("build-1", "b")
    assert store.release_start("build-1", "a")
    assert store.claim_start("build-1", "b")
    job = store.get("build-1")
    assert job is not None and job.state == "STARTING" and job.attempts == 2


def test_a_start_claim_is_never_taken_over_however_old(fake_redis: redis.Redis[bytes]) -> None:
    store = JobStore(fake_redis, SEALER, start_deadline=0.0)
    store.create(REQUEST)
    assert store.claim_start("build-1", "a")
    assert not store.claim_start("build-1", "b")


def test_only_the_claims_owner_records_the_run_it_started(fake_redis: redis.Redis[bytes]) -> None:
    store = JobStore(fake_redis, SEALER)
    store.create(REQUEST)
    assert store.claim_start("build-1", "a")
    assert not store.finish_start("build-1", "b", external_id="{p-2}")
    assert store.finish_start("build-1", "a", external_id="{p-1}")
    job = store.get("build-1")
    assert job is not None and (job.state, job.external_id) == ("INPROGRESS", "{p-1}")


def test_a_created_job_is_due_for_the_sweep_after_the_start_deadline(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = JobStore(fake_redis, SEALER, start_deadline=30.0)
    store.create(REQUEST)
    now = time.time()
    assert store.due(now, 10) == []
    assert store.due(now + 31, 10) == ["build-1"]


def test_a_dead_letter_leaves_the_sweep_until_revived(fake_redis: redis.Redis[bytes]) -> None:
    store = JobStore(fake_redis, SEALER, start_deadline=0.0)
    store.create(REQUEST)
    store.mark_dead("build-1", "RetryableError: gave up")
    assert store.due(time.time() + 1, 10) == []
    assert store.dead() == ["build-1"]
    job = store.get("build-1")
    assert job is not None and job.dead == "RetryableError: gave up"
    assert store.revive("build-1")
    assert store.dead() == [] and store.due(time.time() + 1, 10) == ["build-1"]


def test_states_only_move_forward_and_a_final_state_stays(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = JobStore(fake_redis, SEALER)
    store.create(REQUEST)
    assert store.advance("build-1", "INPROGRESS", external_id="{p-1}")
    assert store.advance("build-1", "SUCCESSFUL", description="done")
    assert not store.advance("build-1", "INPROGRESS")
    assert not store.advance("build-1", "FAILED")
    assert not store.claim_start("build-1", "late")
    job = store.get("build-1")
    assert job is not None
    assert (job.state, job.description, job.external_id) == ("SUCCESSFUL", "done", "{p-1}")


def test_cloud_keys_longer_than_forty_are_hashed_readably_and_stay_distinct() -> None:
    long_a = "datachain/processing/" + "a" * 30
    long_b = "datachain/processing/" + "b" * 30
    assert status_key("datachain/processing", "cloud") == "datachain/processing"
    assert len(status_key(long_a, "cloud")) == 40
    assert status_key(long_a, "cloud").startswith("datachain/processing")
    assert status_key(long_a, "cloud") != status_key(long_b, "cloud")
    assert status_key(long_a, "server") == long_a


def test_dc_says_cancelled_only_where_the_server_supports_it() -> None:
    supported = frozenset({"richBuildStatus", "cancelledStatus"})
    assert product_state("STOPPED", "server", supported) == "CANCELLED"
    assert product_state("STOPPED", "server", frozenset({"richBuildStatus"})) == "FAILED"
    assert product_state("STOPPED", "server", frozenset({"CANCELLED"})) == "FAILED"
    assert product_state("STOPPED", "server", frozenset()) == "FAILED"
    assert product_state("STOPPED", "cloud", frozenset()) == "STOPPED"
    assert product_state("SUCCESSFUL", "server", frozenset()) == "SUCCESSFUL"


def test_the_status_takes_key_url_description_and_refname_from_config() -> None:
    settings = Settings(
        bitbucket=BitbucketSettings(
            build_status=BuildStatusSettings(
                contexts={"dataProcessing": "datachain/processing"},
                url="https://studio.example.com/jobs/{job_id}?repo={repo}&sha={commit}",
                description="DataChain job",
            )
        ),
        relay=RelaySettings(),
    )
    request = dataclasses.replace(REQUEST, refname="feature/x", pr_id=3)
    status = build_status(Job(request, state="INPROGRESS"), settings, frozenset())
    assert status.key == "datachain/processing"
    assert status.url == (
        "https://studio.example.com/jobs/build-1?repo=ws/repo&sha=" + REQUEST.commit  # type: ignore[operator]
    )
    assert status.description == "DataChain job"
    assert status.cloud_body()["refname"] == "feature/x"


def test_dc_statuses_carry_the_push_ref_and_a_url_of_at_most_450_characters() -> None:
    request = JobRequest(
        job_id="ci-1", rule="ci", runner="http", context="ci", product="server",
        repository="PRJ/repo", commit="a" * 40, ref="refs/heads/main", branch="main",
        event_key="repo:refs_changed", delivery_id="d-1",
    )  # fmt: skip
    settings = Settings(
        bitbucket=BitbucketSettings(
            build_status=BuildStatusSettings(url="https://ci/" + "x" * 600 + "/{job_id}")
        )
    )
    body = build_status(Job(request, state="INPROGRESS"), settings, frozenset()).server_body()
    assert body["ref"] == "refs/heads/main"
    assert len(body["url"]) == 450
