"""Which broker URLs the workers' restorable Redis transport serves."""

from __future__ import annotations

from workers.broker import RestorableTransport, transport_for


def test_redis_and_tls_redis_get_the_restorable_transport_and_sentinel_keeps_kombus() -> None:
    assert transport_for("redis://127.0.0.1:6379/0") is RestorableTransport
    assert transport_for("rediss://cache.example:6380/0") is RestorableTransport
    assert transport_for("sentinel://127.0.0.1:26379") is None
