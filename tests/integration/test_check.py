"""`bbrelay check`: healthy, a missing hook, a narrow token, Redis down, no worker."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from bbrelay.embedded_redis import EmbeddedRedis
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import BIN, service_env
from tests.integration.relay import API_TOKEN, bitbucket_values, fixture, relay

pytestmark = pytest.mark.integration

ENV = {"BBRELAY_PUBLIC_URL": "https://relay.example.com"}


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[str]:
    with EmbeddedRedis(tmp_path / "redis", appendonly=True) as server:
        yield server.url


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        bitbucket.repositories |= {"acme/data-1"}
        yield bitbucket


def _values(fake: FakeBitbucket) -> dict[str, object]:
    allowed = ["acme/data-1", "nfalco79/test-repos"]
    return bitbucket_values(fake, repositories={"allowList": allowed})


def _lines(output: str) -> dict[str, str]:
    """check name -> status, from the --json report."""
    return {line["check"]: line["status"] for line in json.loads(output)}


def test_check_reports_a_healthy_setup_then_a_missing_hook_and_a_narrow_token(
    fake: FakeBitbucket, aof_redis: str, tmp_path: Path
) -> None:
    with relay(aof_redis, tmp_path, _values(fake), env=ENV, with_beat=True) as bbrelay:
        assert bbrelay.bbrelay("hooks", "install").returncode == 0
        bbrelay.deliver("cloud", "repo:push", fixture("cloud", "repo-push-signed.json"), "c-1")
        healthy = bbrelay.bbrelay("check")
        report = bbrelay.bbrelay("check", "--json")

        fake.hooks["repo=data-1/ws=acme"].clear()
        missing = bbrelay.bbrelay("check")

        bbrelay.bbrelay("hooks", "install")
        fake.scopes["client-1"] = "account repository pullrequest"
        redis.Redis.from_url(aof_redis).delete("bbrelay:oauth:token:client-1")
        narrow = bbrelay.bbrelay("check")

    assert healthy.returncode == 0, healthy.stdout
    statuses = _lines(report.stdout)
    assert set(statuses.values()) == {"ok"}, report.stdout
    assert set(statuses) >= {
        "config",
        "redis",
        "redis aof",
        "workers",
        "beat",
        "bitbucket",
        "scopes",
        "hook acme/data-1",
        "budget oauth:client-1",
        "last webhook",
        "team sync",
    }
    assert missing.returncode == 1
    assert re.search(r"^fail\s+hook acme/data-1\s+missing$", missing.stdout, re.M)
    assert "bbrelay hooks install" in missing.stdout
    assert narrow.returncode == 1
    assert (
        "fail  scopes" in narrow.stdout
        and "webhook (for creating and reading hooks)" in narrow.stdout
    )


def test_check_with_redis_down_fails_at_redis(fake: FakeBitbucket, tmp_path: Path) -> None:
    result = _check(fake, "redis://127.0.0.1:1/0", tmp_path)
    assert result.returncode == 1
    assert "fail  redis" in result.stdout
    assert "start Redis or point BBRELAY_REDIS_URL at it" in result.stdout


def test_check_with_no_worker_running_fails_at_workers_and_beat(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    result = _check(fake, redis_url, tmp_path)
    assert result.returncode == 1
    assert re.search(r"^fail\s+workers\s+no worker answered$", result.stdout, re.M)
    assert re.search(r"^fail\s+beat\s+no heartbeat$", result.stdout, re.M)


def _check(fake: FakeBitbucket, redis_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    values = {"global": {"git": {"bitbucket": _values(fake)}, "relay": {"apiTokens": [API_TOKEN]}}}
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    env = service_env(redis_url, tmp_path, ENV)
    return subprocess.run(
        [str(BIN / "bbrelay"), "check"], env=env, capture_output=True, text=True, timeout=60
    )
