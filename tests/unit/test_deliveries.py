"""Delivery claims (dedupe by id and by body) and the forward-only record."""

from __future__ import annotations

import redis

from shared.deliveries import Claim, DeliveryStore


def _claim(store: DeliveryStore, delivery_id: str, body: bytes = b"{}") -> Claim:
    import hashlib

    sha = hashlib.sha256(body).hexdigest()
    return store.claim(delivery_id, sha, body, {"event_key": "repo:push"}).outcome


def test_first_claim_is_new_and_writes_a_queued_record(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    assert _claim(store, "d1", b"one") is Claim.NEW
    record = store.get("d1")
    assert record is not None
    assert record["status"] == "queued"
    assert record["attempts"] == 0
    assert store.raw_body("d1") == b"one"


def test_same_delivery_id_is_a_duplicate(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    _claim(store, "d1", b"one")
    assert _claim(store, "d1", b"two") is Claim.DUPLICATE_ID


def test_same_body_under_a_new_id_is_a_duplicate(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    _claim(store, "d1", b"one")
    assert _claim(store, "d2", b"one") is Claim.DUPLICATE_BODY
    assert store.get("d2") is None


def test_claims_expire_after_the_dedupe_window(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis, dedupe_window=60)
    _claim(store, "d1", b"one")
    assert 0 < fake_redis.ttl("bbrelay:seen:id:d1") <= 60


def test_release_lets_the_same_delivery_be_claimed_again(fake_redis: redis.Redis) -> None:
    import hashlib

    store = DeliveryStore(fake_redis)
    _claim(store, "d1", b"one")
    store.release("d1", hashlib.sha256(b"one").hexdigest())
    assert store.get("d1") is None
    assert _claim(store, "d1", b"one") is Claim.NEW


def test_record_moves_forward_and_counts_attempts(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    _claim(store, "d1")
    assert store.advance("d1", "processing", count_attempt=True)
    assert store.advance("d1", "retrying", error="boom")
    assert store.advance("d1", "processing", count_attempt=True)
    assert store.advance("d1", "processed")
    record = store.get("d1")
    assert record is not None
    assert record["status"] == "processed"
    assert record["attempts"] == 2
    assert record["processed_at"] >= record["queued_at"]


def test_a_late_processing_mark_never_undoes_processed(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    _claim(store, "d1")
    store.advance("d1", "processed")
    assert not store.advance("d1", "processing", count_attempt=True)
    record = store.get("d1")
    assert record is not None and record["status"] == "processed"


def test_failed_deliveries_are_listed_as_dead_letters(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    _claim(store, "d1", b"one")
    _claim(store, "d2", b"two")
    store.advance("d2", "failed", error="ValueError: bad")
    failed = store.recent(10, failed=True)
    assert [r["delivery_id"] for r in failed] == ["d2"]
    assert failed[0]["error"] == "ValueError: bad"
    assert [r["delivery_id"] for r in store.recent(10)] == ["d2", "d1"]


def test_advancing_an_unknown_delivery_changes_nothing(fake_redis: redis.Redis) -> None:
    store = DeliveryStore(fake_redis)
    assert not store.advance("nope", "processed")
    assert store.get("nope") is None
