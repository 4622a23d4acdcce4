"""Bitbucket errors become Celery retries with the right countdown, in one layer only."""

from __future__ import annotations

import random
from typing import Any

import fakeredis
import httpx
from celery import Celery

from shared.bitbucket.errors import (
    BitbucketRejected,
    BitbucketUnavailable,
    BucketEmpty,
    RateLimited,
)
from shared.bitbucket.factory import build_client
from shared.bitbucket.models import BuildStatus
from shared.config.settings import BitbucketSettings, RateLimit
from shared.secret import Secret
from tests.conftest import SEALER
from workers.retrying import MAX_DELAY, THROTTLED_MAX_RETRIES, bitbucket_retries, countdown_for

SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
STATUS = BuildStatus(state="INPROGRESS", key="relay", name="relay", url="https://ci/1")


def test_a_known_wait_is_honoured_and_the_spread_grows_with_retries() -> None:
    first = [countdown_for(RateLimited("429", retry_after=7.0), 0) for _ in range(50)]
    assert all(7.0 <= wait < 9.0 for wait in first)
    later = [countdown_for(BucketEmpty("empty", retry_after=7.0), 6) for _ in range(200)]
    assert all(7.0 <= wait < 7.0 + 65.0 for wait in later)
    assert max(later) - min(later) > 30.0


def test_back_off_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    error = BitbucketUnavailable("500")
    for retries in range(12):
        ceiling = min(MAX_DELAY, 2.0 * 2**retries)
        wait = countdown_for(error, retries, rng)
        assert ceiling / 2 <= wait <= ceiling
    spread = {round(countdown_for(error, 3, rng), 3) for _ in range(20)}
    assert len(spread) > 10


def test_a_long_retry_after_is_capped_below_the_visibility_timeout() -> None:
    assert countdown_for(BucketEmpty("empty", retry_after=10_000.0), 30) <= 2 * MAX_DELAY + 1


def _eager_app() -> Celery:
    app = Celery("retrying-test", set_as_current=False)
    app.conf.update(task_always_eager=True)
    return app


def _client_answering(*statuses: int) -> tuple[Any, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = next(answers)
        body = {"type": "error", "error": {"message": "nope"}} if status >= 400 else {}
        return httpx.Response(status, json=body)

    settings = BitbucketSettings(token=Secret("t0k"), rate_limit=RateLimit(1000, 50))
    client = build_client(
        settings, fakeredis.FakeRedis(), SEALER, transport=httpx.MockTransport(handle)
    )
    return client, seen


def test_5xx_twice_then_success_posts_once_per_attempt_and_no_more() -> None:
    client, seen = _client_answering(500, 502, 201)
    app = _eager_app()

    @app.task(bind=True, max_retries=5)  # type: ignore[untyped-decorator]
    def post(task: Any) -> str:
        with bitbucket_retries(task):
            client.post_build_status("ws/repo", SHA, STATUS)
        return "posted"

    assert post.apply().get() == "posted"
    assert len(seen) == 3


def test_a_rejection_is_not_retried() -> None:
    client, seen = _client_answering(400, 201)
    app = _eager_app()

    @app.task(bind=True, max_retries=5)  # type: ignore[untyped-decorator]
    def post(task: Any) -> None:
        with bitbucket_retries(task):
            client.post_build_status("ws/repo", SHA, STATUS)

    result = post.apply()
    assert result.state == "FAILURE"
    assert isinstance(result.result, BitbucketRejected)
    assert "nope" in str(result.result)
    assert len(seen) == 1


def test_retries_give_up_after_max_retries_for_errors_but_not_for_throttling() -> None:
    app = _eager_app()
    calls: list[int] = []

    @app.task(bind=True, max_retries=2)  # type: ignore[untyped-decorator]
    def failing(task: Any, error: str) -> None:
        calls.append(task.request.retries)
        with bitbucket_retries(task):
            if error == "throttled" and len(calls) < 10:
                raise RateLimited("429", retry_after=0.0)
            if error == "down":
                raise BitbucketUnavailable("500")

    result = failing.apply(args=("down",))
    assert isinstance(result.result, BitbucketUnavailable)
    assert calls == [0, 1, 2]
    calls.clear()
    assert failing.apply(args=("throttled",)).state == "SUCCESS"
    assert len(calls) == 10 < THROTTLED_MAX_RETRIES
