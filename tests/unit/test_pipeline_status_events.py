"""Pipelines' own commit statuses carry the run's state and build number into the Event."""

from __future__ import annotations

import json

from shared.events import Event
from shared.payloads import pipelines_build
from tests.unit.test_events import FIXTURES, headers_for, parse_fixture, parse_json


def test_a_pipelines_status_names_its_state_and_build_number() -> None:
    event = parse_fixture("cloud", "repo-commit_status_updated.json", "repo:commit_status_updated")
    assert (event.status_state, event.status_build) == ("SUCCESSFUL", 4)
    assert Event.from_json(event.to_json()) == event


def test_a_status_posted_by_another_tool_has_no_build_number() -> None:
    document = json.loads((FIXTURES / "cloud" / "repo-commit_status_updated.json").read_text())
    document["commit_status"] |= {"name": "relay/ci", "url": "https://ci.example/jobs/4"}
    event = parse_json(headers_for("cloud", "repo:commit_status_updated"), document)
    assert (event.status_state, event.status_build) == ("SUCCESSFUL", None)


def test_only_a_results_url_gives_a_build_number() -> None:
    home = "https://bitbucket.org/ws/repo/addon/pipelines/home#!/results/"
    assert pipelines_build("Pipeline #12 for main", home + "12") == 12
    assert pipelines_build("Pipeline #12 for main", home) is None
    assert pipelines_build(None, home + "12") is None
