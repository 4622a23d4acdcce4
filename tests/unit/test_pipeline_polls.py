"""How often a running Pipelines run is looked at when its status webhooks do not come."""

from __future__ import annotations

from shared.bitbucket.models import Pipeline
from shared.config.settings import PipelinesSettings
from workers.job_flow import next_poll

SETTINGS = PipelinesSettings(poll_interval=15.0, max_poll_interval=100.0)


def test_the_look_after_the_fallback_one_comes_at_the_poll_interval() -> None:
    assert next_poll(None, SETTINGS) == 15.0


def test_later_looks_back_off_doubling_up_to_the_cap() -> None:
    waits = []
    wait = None
    for _ in range(5):
        wait = next_poll(wait, SETTINGS)
        waits.append(wait)
    assert waits == [15.0, 30.0, 60.0, 100.0, 100.0]


def test_a_cloud_paused_stage_counts_as_paused() -> None:
    document = {
        "uuid": "{p}",
        "build_number": 7,
        "state": {"name": "IN_PROGRESS", "stage": {"name": "PAUSED"}},
    }
    assert Pipeline.from_cloud(document).paused
