"""Redis clients with short timeouts, so a dead Redis is noticed in about a second."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis[bytes]:
    """A client for `url` that fails fast instead of hanging a request or a task."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


def redacted_url(url: str) -> str:
    """The URL with any password replaced, for logs and banners."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
