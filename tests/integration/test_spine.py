"""End to end: a signed delivery through the real receiver, Redis and a Celery worker."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis

from shared.deliveries import DeliveryStore
from tests.conftest import SIGNED_DIGEST, SIGNED_SECRET, fixture_bytes
from tests.integration.processes import receiver, service_env, wait_until, worker
from tests.integration.relay import API_TOKEN

pytestmark = pytest.mark.integration

BODY = fixture_bytes("cloud/repo-push-signed.json")


def _post(url: str, delivery_id: str) -> httpx.Response:
    headers = {
        "X-Event-Key": "repo:push",
        "X-Request-UUID": delivery_id,
        "X-Hub-Signature": SIGNED_DIGEST,
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/api/webhooks/bitbucket", content=BODY, headers=headers, timeout=10)


def test_a_signed_delivery_posted_twice_is_processed_once(redis_url: str, tmp_path: Path) -> None:
    # The fixture was signed by Bitbucket with a 16-character secret, which production refuses:
    # development accepts it with a warning; the services are otherwise the same.
    env = service_env(
        redis_url,
        tmp_path,
        {
            "BBRELAY_ENV": "development",
            "BBRELAY_WEBHOOK_SECRET": SIGNED_SECRET,
            "BBRELAY_API_TOKEN": API_TOKEN,
        },
    )
    store = DeliveryStore(redis.Redis.from_url(redis_url))
    with receiver(env, tmp_path) as url, worker(env, tmp_path) as worker_log:
        first = _post(url, "spine-1")
        second = _post(url, "spine-1")
        replayed = _post(url, "spine-2")
        assert (first.status_code, first.json()) == (
            202,
            {"delivery": "spine-1", "status": "queued"},
        )
        assert (second.status_code, second.json()["status"]) == (200, "duplicate")
        assert (replayed.status_code, replayed.json()["status"]) == (200, "duplicate")

        wait_until(lambda: (store.get("spine-1") or {}).get("status") == "processed")
        record = store.get("spine-1")
        assert record is not None
        assert record["attempts"] == 1
        assert record["event_key"] == "repo:push"
        assert record["queued_at"] <= record["processing_at"] <= record["processed_at"]
        assert store.get("spine-2") is None

        api = httpx.get(
            f"{url}/api/deliveries/spine-1",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=5,
        )
        assert api.json()["status"] == "processed"
        log_text = worker_log.read_text()
        assert log_text.count("event.handled") == 1
        assert "spine-1" in log_text
        assert SIGNED_SECRET not in log_text


def test_metrics_of_every_gunicorn_worker_are_added_up(redis_url: str, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = service_env(
        redis_url,
        tmp_path,
        {
            "BBRELAY_WEBHOOK_SECRET": "another-secret-long-enough-for-production",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
    )
    with receiver(env, tmp_path, workers=2) as url:
        for n in range(6):
            assert _post(url, f"bad-{n}").status_code == 401
        text = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'bbrelay_webhook_deliveries_total{outcome="bad_signature"} 6.0' in text
