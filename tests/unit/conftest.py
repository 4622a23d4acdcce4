"""Fixtures of the receiver's unit tests: one fakeredis server, an enqueuer that records."""

from __future__ import annotations

import fakeredis
import pytest

from tests.recording_enqueuer import RecordingEnqueuer


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()
