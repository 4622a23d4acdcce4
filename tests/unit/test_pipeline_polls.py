"""How often a running Pipelines run is looked at: regularly, and less often while paused."""

from __future__ import annotations

from shared.bitbucket.models import Pipeline
from shared.config.settings import PipelinesSettings
from workers.job_flow import next_poll

SETTINGS = PipelinesSettings(poll_interval=15.0, max_poll_interval=100.0)
RUNNING = Pipeline(uuid="{p}", build_number=7, state="IN_PROGRESS", result="RUNNING")
PAUSED = Pipeline(uuid="{p}", build_number=7, state="IN_PROGRESS", result="PAUSED")


def test_a_running_pipeline_is_polled_at_the_interval() -> None:
    assert next_poll(RUNNING, None, SETTINGS) == 15.0
    assert next_poll(RUNNING, 60.0, SETTINGS) == 15.0


def test_a_paused_pipeline_backs_off_doubling_up_to_the_cap() -> None:
    waits = []
    wait = None
    for _ in range(5):
        wait = next_poll(PAUSED, wait, SETTINGS)
        waits.append(wait)
    assert waits == [30.0, 60.0, 100.0, 100.0, 100.0]


def test_a_cloud_paused_stage_counts_as_paused() -> None:
    document = {
        "uuid": "{p}",
        "build_number": 7,
        "state": {"name": "IN_PROGRESS", "stage": {"name": "PAUSED"}},
    }
    assert Pipeline.from_cloud(document).paused
