"""Beat on a fresh clone: no var/ yet, team sync on; the first sync runs at start, check is calm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.teams.store import TeamStore
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.integration.processes import BIN, running, wait_until
from tests.integration.relay import bitbucket_values, relay

pytestmark = pytest.mark.integration

TEAMS = {
    "auth": {"bitbucket": {"teamSync": {"enabled": True, "workspaceWhitelist": ["acme"]}}},
    "teams": {"bitbucket": {"syncInterval": "1h"}},
}


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    with FakeBitbucket("cloud") as bitbucket:
        team_data.seed(bitbucket, "acme", 3, 1)
        yield bitbucket


def test_beat_makes_its_schedule_directory_and_syncs_teams_at_start(
    fake: FakeBitbucket, redis_url: str, tmp_path: Path
) -> None:
    schedule = tmp_path / "fresh-clone" / "var" / "celerybeat-schedule"
    store = TeamStore(redis.Redis.from_url(redis_url))
    with relay(redis_url, tmp_path, bitbucket_values(fake), more_global=TEAMS) as service:
        argv = [str(BIN / "celery"), "-A", "workers.celery_app:app", "beat", "--loglevel", "INFO"]
        log = tmp_path / "beat.log"
        with running([*argv, "--schedule", str(schedule)], service.env, log) as beat:
            wait_until(lambda: b"beat: Starting" in log.read_bytes(), beat, log)
            wait_until(
                lambda: (store.view("acme") or {}).get("status", {}).get("last_success"),
                beat,
                log,
                timeout=60,
            )
            report = service.bbrelay("check", "--json")
    statuses = {line["check"]: line["status"] for line in json.loads(report.stdout)}
    assert statuses["team sync acme"] == "ok", report.stdout
    assert schedule.parent.is_dir()
