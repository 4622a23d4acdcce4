"""What an outgoing call (Bitbucket, the job platform, the team sink) can fail with, and whether
a retry can help. The platform's and the sink's errors live beside their callers.

BitbucketError
├── RetryableError          retried by Celery with a countdown
│   ├── RateLimited         Bitbucket answered 429 (consumer paused)
│   ├── BucketEmpty         our own token bucket has no token for a while
│   ├── BitbucketUnavailable  5xx or a transport error
│   ├── LimiterUnavailable  Redis unreachable: the call is not made (fail closed)
│   ├── PlatformUnavailable   the job platform answered 5xx or was unreachable
│   │                         (workers/runners/http.py)
│   └── SinkUnavailable     a sink did not accept a body (shared/outbox.py)
└── PermanentError          a retry would fail the same way
    ├── BitbucketRejected   other 4xx, carrying Bitbucket's message
    ├── AuthFailed          401 after one refresh, or the token endpoint refused us
    ├── ForbiddenHost       a URL outside the configured Bitbucket hosts
    └── PlatformRejected    the job platform refused the job, 4xx (workers/runners/http.py)
"""

from __future__ import annotations


class BitbucketError(Exception):
    """Base of every error the client raises."""


class RetryableError(BitbucketError):
    """Worth trying again; `retry_after` is the least wait in seconds, when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """Bitbucket answered 429."""


class BucketEmpty(RetryableError):
    """No consumer has a token now; one will in `retry_after` seconds."""


class BitbucketUnavailable(RetryableError):
    """Bitbucket answered 5xx, or the connection failed."""


class LimiterUnavailable(RetryableError):
    """Redis, which holds the token bucket, is unreachable; nothing was sent."""


class PermanentError(BitbucketError):
    """A retry would fail the same way."""


class BitbucketRejected(PermanentError):
    """A 4xx other than 401 and 429, with Bitbucket's own message.

    Built with `refused`; the plain constructor takes the text alone so that Celery can rebuild
    the exception from its args when it records a failure.
    """

    def __init__(self, text: str, *, status: int = 0, bitbucket_message: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.bitbucket_message = bitbucket_message or text

    @classmethod
    def refused(cls, status: int, message: str, method: str, path: str) -> BitbucketRejected:
        return cls(
            f"Bitbucket refused {method} {path} ({status}): {message}",
            status=status,
            bitbucket_message=message,
        )


class AuthFailed(PermanentError):
    """The credentials were refused even after a fresh token."""


class ForbiddenHost(PermanentError):
    """The client only calls the configured Bitbucket hosts."""
