"""The metrics the dashboard needs: gauges read from Redis, statuses posted, team sync results."""

from __future__ import annotations

import fakeredis
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.dryrun import DryRunSender
from shared.bitbucket.errors import BitbucketUnavailable
from shared.bitbucket.models import BuildStatus
from shared.config.settings import Settings, TeamSyncSettings
from shared.deliveries import RECENT_INDEX, record_key
from shared.jobs.store import JOBS_INDEX, job_key
from shared.redis_metrics import RedisStateCollector
from shared.task_names import QUEUE
from shared.teams.store import TeamStore
from shared.teams.sync import run_sync


def _scrape(collector: RedisStateCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_scrape_reads_queue_depth_and_recent_records_by_state_from_redis() -> None:
    client = fakeredis.FakeRedis()
    client.rpush(QUEUE, b"task-1", b"task-2", b"task-3")
    for n, status in enumerate(["processed", "processed", "failed", "queued"]):
        client.hset(record_key(f"d{n}"), "status", status)
        client.zadd(RECENT_INDEX, {f"d{n}": n})
    client.zadd(RECENT_INDEX, {"expired": 9})  # its record is gone: not counted
    for n, state in enumerate(["SUCCESSFUL", "INPROGRESS", "SUCCESSFUL"]):
        client.hset(job_key(f"j{n}"), "state", state)
        client.zadd(JOBS_INDEX, {f"j{n}": n})

    text = _scrape(RedisStateCollector(client))

    assert 'bbrelay_queue_depth{queue="bbrelay"} 3.0' in text
    assert 'bbrelay_recent_deliveries{state="processed"} 2.0' in text
    assert 'bbrelay_recent_deliveries{state="failed"} 1.0' in text
    assert 'bbrelay_recent_deliveries{state="queued"} 1.0' in text
    assert 'bbrelay_recent_jobs{state="SUCCESSFUL"} 2.0' in text
    assert 'bbrelay_recent_jobs{state="INPROGRESS"} 1.0' in text


def test_only_the_newest_records_are_counted() -> None:
    client = fakeredis.FakeRedis()
    for n in range(5):
        client.hset(job_key(f"j{n}"), "state", "FAILED" if n < 3 else "SUCCESSFUL")
        client.zadd(JOBS_INDEX, {f"j{n}": n})

    text = _scrape(RedisStateCollector(client, sample=2))

    assert 'bbrelay_recent_jobs{state="SUCCESSFUL"} 2.0' in text
    assert 'bbrelay_recent_jobs{state="FAILED"}' not in text


def test_a_scrape_with_redis_down_gives_the_other_metrics_and_no_redis_gauges() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    with capture_logs() as logs:
        text = _scrape(RedisStateCollector(fakeredis.FakeRedis(server=server)))
    assert "bbrelay_queue_depth" not in text
    assert [entry["event"] for entry in logs] == ["metrics.redis_unavailable"]


def test_each_build_status_bitbucket_accepts_is_counted_by_state() -> None:
    client = BitbucketClient("cloud", "https://api.bitbucket.org/2.0", DryRunSender("cloud"))
    before = _value("bbrelay_build_statuses_posted_total", state="SUCCESSFUL")
    status = BuildStatus(state="SUCCESSFUL", key="ci", name="ci", url="https://ci/1")
    with capture_logs():
        client.post_build_status("ws/repo", "a" * 40, status)
    assert _value("bbrelay_build_statuses_posted_total", state="SUCCESSFUL") == before + 1


class FailingSender:
    def send(self, *_: object, **__: object) -> None:
        raise BitbucketUnavailable("Bitbucket answered 503")


def test_team_syncs_are_counted_by_result_and_dry_runs_are_not() -> None:
    settings = Settings(team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)))
    store = TeamStore(fakeredis.FakeRedis())
    dry = BitbucketClient("cloud", "https://api.bitbucket.org/2.0", DryRunSender("cloud"))
    failing = BitbucketClient("cloud", "https://api.bitbucket.org/2.0", FailingSender())  # type: ignore[arg-type]
    results = ("unchanged", "failed", "applied", "held")
    before = {r: _value("bbrelay_team_syncs_total", result=r) for r in results}

    with capture_logs():
        run_sync(dry, store, settings, "acme")
        run_sync(dry, store, settings, "acme", dry_run=True)
        with pytest.raises(BitbucketUnavailable):
            run_sync(failing, store, settings, "acme")

    after = {r: _value("bbrelay_team_syncs_total", result=r) - before[r] for r in results}
    assert after == {"unchanged": 1, "failed": 1, "applied": 0, "held": 0}
