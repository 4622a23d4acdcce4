"""Map Bitbucket errors to Celery retries: the one and only retry layer for outgoing calls.

Retryable errors come back as `task.retry` with a countdown: Bitbucket's own wait when there is
one (a pause after 429, an empty bucket, DC's Retry-After), else exponential back-off with full
jitter. Being throttled is not failing, so it gets a larger retry allowance than 5xx errors.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.bitbucket.errors import BucketEmpty, RateLimited, RetryableError

BASE_DELAY = 2.0
MAX_DELAY = 300.0
THROTTLED_MAX_RETRIES = 100


def countdown_for(exc: RetryableError, retries: int, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt; never above MAX_DELAY plus a second of jitter."""
    draw: float = (rng or random).random()
    if exc.retry_after is not None:
        return min(exc.retry_after, MAX_DELAY) + draw
    ceiling = min(MAX_DELAY, BASE_DELAY * 2.0**retries)
    return ceiling / 2 + draw * ceiling / 2


def is_throttling(exc: RetryableError) -> bool:
    return isinstance(exc, RateLimited | BucketEmpty)


@contextmanager
def bitbucket_retries(task: Any) -> Iterator[None]:
    """Inside a bound task: a RetryableError becomes `task.retry` with the right countdown."""
    try:
        yield
    except RetryableError as exc:
        max_retries = THROTTLED_MAX_RETRIES if is_throttling(exc) else task.max_retries
        raise task.retry(
            exc=exc,
            countdown=countdown_for(exc, task.request.retries),
            max_retries=max_retries,
        ) from exc
