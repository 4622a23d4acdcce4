"""The real client against the fake Bitbucket over HTTP: OAuth, budget, failures, paging."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest
import redis

from shared.bitbucket.client import JOB_ID_VARIABLE, BitbucketClient
from shared.bitbucket.errors import AuthFailed, BitbucketUnavailable, BucketEmpty, RateLimited
from shared.bitbucket.factory import build_client
from shared.bitbucket.models import BuildStatus
from shared.config.settings import RateLimit, Timeouts
from tests.conftest import SEALER
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.client_calls import calls_of, cloud_settings, concurrent_user_calls

pytestmark = pytest.mark.integration

SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
STATUS = BuildStatus(state="INPROGRESS", key="relay/ci", name="relay", url="https://ci.example/1")


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        yield bitbucket


def _client(
    fake: FakeBitbucket, redis_url: str, rate_limit: RateLimit | None = None
) -> BitbucketClient:
    settings = cloud_settings(fake.api_url, fake.token_url, rate_limit)
    return build_client(settings, redis.Redis.from_url(redis_url), SEALER, sleep=time.sleep)


def test_first_call_fetches_a_token_and_later_calls_reuse_it(
    fake: FakeBitbucket, redis_url: str
) -> None:
    client = _client(fake, redis_url)
    assert client.current_user().name == "relay"
    assert client.current_user().name == "relay"
    assert fake.token_requests == 1


def test_twenty_concurrent_calls_in_four_processes_fetch_one_token(
    fake: FakeBitbucket, redis_url: str
) -> None:
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(concurrent_user_calls, redis_url, fake.api_url, fake.token_url, 5)
            for _ in range(4)
        ]
        assert sum(f.result() for f in futures) == 20
    assert fake.token_requests == 1
    assert len(fake.requests_to("/2.0/user")) == 20


def test_an_expired_token_is_refreshed_once(fake: FakeBitbucket, redis_url: str) -> None:
    client = _client(fake, redis_url)
    client.current_user()
    fake.expire_tokens()
    assert client.current_user().name == "relay"
    assert fake.token_requests == 2
    assert [r.status for r in fake.requests_to("/2.0/user")] == [200, 401, 200]


def test_a_revoked_consumer_gives_a_clear_error(fake: FakeBitbucket, redis_url: str) -> None:
    client = _client(fake, redis_url)
    client.current_user()
    fake.revoke_all()
    fake.consumers["client-1"] = "rotated-by-an-admin"
    with pytest.raises(AuthFailed, match="client-1"):
        client.current_user()


def test_5xx_then_success(fake: FakeBitbucket, redis_url: str) -> None:
    client = _client(fake, redis_url)
    fake.fail_next(1, status=503, path="*/statuses/build")
    with pytest.raises(BitbucketUnavailable, match="503"):
        client.post_build_status("ws/repo", SHA, STATUS)
    client.post_build_status("ws/repo", SHA, STATUS)
    assert [s["state"] for s in fake.statuses("ws/repo", SHA)] == ["INPROGRESS"]


def test_dropped_connection_then_success(fake: FakeBitbucket, redis_url: str) -> None:
    client = _client(fake, redis_url)
    fake.drop_next(1, path="*/statuses/build")
    with pytest.raises(BitbucketUnavailable):
        client.post_build_status("ws/repo", SHA, STATUS)
    client.post_build_status("ws/repo", SHA, STATUS)
    assert len(fake.statuses("ws/repo", SHA)) == 1


def test_a_429_without_retry_after_pauses_until_the_hour_lets_our_oldest_call_out(
    fake: FakeBitbucket, redis_url: str
) -> None:
    settings = cloud_settings(fake.api_url, fake.token_url)
    client = build_client(settings, redis.Redis.from_url(redis_url), SEALER, sleep=lambda _: None)
    fake.fail_next(1, status=429, path="/2.0/user")
    with pytest.raises(RateLimited) as raised:
        client.current_user()
    # The one call the bucket recorded leaves the rolling hour within the hour and a minute.
    assert raised.value.retry_after is not None
    assert 3600 - 60 < raised.value.retry_after <= 3600 + 60
    with pytest.raises(BucketEmpty):
        client.current_user()
    assert [r.status for r in fake.requests_to("/2.0/user")] == [429]


CALLS_PER_PROCESS = 8


def test_the_fake_never_answers_429_while_its_budget_equals_ours(redis_url: str) -> None:
    rate_limit = RateLimit(requests_per_hour=5 + 10 * 3600, burst_size=5)  # refill 10/s
    with FakeBitbucket("cloud", budget_per_hour=15, budget_window=1.0) as fake:
        _client(fake, redis_url).current_user()
        with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
            list(pool.map(time.sleep, [0.5] * 4))
            time.sleep(1.1)
            args = (redis_url, fake.api_url, fake.token_url, rate_limit, CALLS_PER_PROCESS)
            made = sum(f.result() for f in [pool.submit(calls_of, *args) for _ in range(4)])
        assert made == 4 * CALLS_PER_PROCESS
        assert len(fake.requests_to("/2.0/user")) == 1 + made
        assert fake.budget.refused == 0
        assert fake.responses_with(429) == 0


def test_paging_reads_every_member_once(fake: FakeBitbucket, redis_url: str) -> None:
    directory = fake.directory("ws")
    for n in range(250):
        user_id = f"{{user-{n:04d}}}"
        directory.users[user_id] = {"uuid": user_id, "nickname": f"u{n}", "display_name": f"U {n}"}
    members = list(_client(fake, redis_url).iter_workspace_permissions("ws"))
    assert len({user.id for user, _ in members}) == 250
    assert len(fake.requests_to("/2.0/workspaces/ws/permissions")) == 3


def test_a_slow_answer_past_the_read_timeout_is_retryable(
    fake: FakeBitbucket, redis_url: str
) -> None:
    settings = dataclasses.replace(
        cloud_settings(fake.api_url, fake.token_url), timeout=Timeouts(read=0.3)
    )
    client = build_client(settings, redis.Redis.from_url(redis_url), SEALER)
    client.current_user()
    fake.delay(1.0, path="/2.0/user", n=1)
    with pytest.raises(BitbucketUnavailable, match="ReadTimeout"):
        client.current_user()
    assert client.current_user().name == "relay"


def test_a_triggered_run_is_found_again_by_its_job_id(fake: FakeBitbucket, redis_url: str) -> None:
    client = _client(fake, redis_url)
    fake.max_page = 2  # Bitbucket caps pagelen; a small cap makes the search turn a page
    other_sha = "0" * 40
    job_created = time.time()

    def trigger(sha: str, job: str) -> str:
        target = {"type": "pipeline_commit_target", "commit": {"type": "commit", "hash": sha}}
        variables = [{"key": JOB_ID_VARIABLE, "value": job, "secured": False}]
        return client.trigger_pipeline("ws/repo", target, variables).uuid

    wanted = trigger(SHA, "job-a")
    trigger(other_sha, "job-b")
    trigger(SHA, "job-c")
    trigger(SHA, "job-d")

    found = client.find_pipeline_for_job("ws/repo", SHA, "job-a", created_after=job_created)
    assert found is not None and found.uuid == wanted
    listings = fake.requests_to("/2.0/repositories/ws/repo/pipelines/", "GET")
    assert [r.query.get("page", "1") for r in listings] == ["1", "2"]
    assert {r.query["target.commit.hash"] for r in listings} == {SHA}
    assert client.find_pipeline_for_job("ws/repo", SHA, "job-b") is None
    assert client.find_pipeline_for_job("ws/repo", other_sha, "job-b") is not None
