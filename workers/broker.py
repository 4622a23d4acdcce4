"""kombu's Redis transport with channels that still reach Redis after kombu released them.

On a lost broker connection Celery 5.7 first `collect()`s the connection, which sets the
transport's `client` (the kombu Connection) to None, then `close()`s it, which closes the
consuming channel and puts its unacknowledged messages back through a new connection pool.
Stock kombu works out that pool's parameters from `transport.client`, so the restore raises
`AttributeError: 'NoneType' object has no attribute 'hostname'`, which Celery does not recover
from: the worker exits (celery/kombu 5.6 do not close twice and survive).

A channel here keeps the parameters it worked out while its connection was there. The restore
then reaches Redis if it answers, and otherwise fails with a connection error, which Celery
recovers from; the messages stay in Redis's unacked index until their visibility timeout.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kombu.transport import redis as kombu_redis

SCHEMES = frozenset({"redis", "rediss"})


class RestorableChannel(kombu_redis.Channel):
    """A channel whose Redis connection parameters outlive kombu's release of the connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._kept_connparams: dict[bool, dict[str, Any]] = {}
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        kept = self._kept_connparams
        released = self.connection is None or self.connection.client is None
        if not released or asynchronous not in kept:
            kept[asynchronous] = super()._connparams(asynchronous)  # type: ignore[no-untyped-call]
        return dict(kept[asynchronous])


class RestorableTransport(kombu_redis.Transport):
    Channel = RestorableChannel


def transport_for(broker_url: str) -> type[kombu_redis.Transport] | None:
    """The transport for a `redis://` or `rediss://` broker; None leaves kombu's (sentinel)."""
    return RestorableTransport if urlsplit(broker_url).scheme in SCHEMES else None
