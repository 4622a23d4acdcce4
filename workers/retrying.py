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
from shared.config.settings import RelaySettings

MAX_DELAY = 300.0
# Throttled tasks wait their turn for as long as a backlog lasts (300 retries ~ a day).
THROTTLED_MAX_RETRIES = 300


def countdown_for(
    exc: RetryableError,
    retries: int,
    rng: random.Random | None = None,
    base_delay: float = RelaySettings.retry_base_delay,
) -> float:
    """Seconds until the next attempt, at most MAX_DELAY plus the spread.

    A known wait (429 pause, empty bucket) is honoured; many tasks told the same wait would wake
    together and all but one would be turned away again, so the spread grows with each retry.
    """
    draw: float = (rng or random).random()
    if exc.retry_after is not None:
        spread = 1.0 + min(MAX_DELAY, 2.0**retries) if is_throttling(exc) else 1.0
        return min(exc.retry_after, MAX_DELAY) + draw * spread
    ceiling = min(MAX_DELAY, base_delay * 2.0**retries)
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
            countdown=countdown_for(
                exc,
                task.request.retries,
                base_delay=task.app.conf.get(
                    "bbrelay_retry_base_delay", RelaySettings.retry_base_delay
                ),
            ),
            max_retries=max_retries,
        ) from exc
