"""Calls through the real client from other processes (spawned), for concurrency tests."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import redis

from shared.bitbucket.errors import BucketEmpty
from shared.bitbucket.factory import build_client
from shared.config.settings import BitbucketSettings, Consumer, RateLimit
from shared.secret import Secret
from tests.conftest import SEALER


def cloud_settings(
    api_url: str, token_url: str, rate_limit: RateLimit | None = None
) -> BitbucketSettings:
    return BitbucketSettings(
        product="cloud",
        api_url=api_url,
        token_url=token_url,
        consumers=(Consumer("client-1", Secret("secret-1")),),
        rate_limit=rate_limit or RateLimit(1000, 50),
    )


def concurrent_user_calls(redis_url: str, api_url: str, token_url: str, threads: int) -> int:
    """`threads` simultaneous current_user calls from one process; how many succeeded."""
    client = build_client(
        cloud_settings(api_url, token_url), redis.Redis.from_url(redis_url), SEALER
    )
    with ThreadPoolExecutor(threads) as pool:
        users = list(pool.map(lambda _: client.current_user(), range(threads)))
    return sum(1 for user in users if user.name == "relay")


def calls_of(
    redis_url: str, api_url: str, token_url: str, rate_limit: RateLimit, count: int
) -> int:
    """Make `count` calls as fast as the bucket allows, sleeping out BucketEmpty; calls made."""
    settings = cloud_settings(api_url, token_url, rate_limit)
    client = build_client(settings, redis.Redis.from_url(redis_url), SEALER)
    made = 0
    while made < count:
        try:
            client.current_user()
            made += 1
        except BucketEmpty as exc:
            time.sleep(exc.retry_after or 0.1)
    return made
