"""JSON logs carry the traceback of exceptions logged by Celery and other stdlib loggers."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared.logging import configure_logging
from tests.conftest import make_settings


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes in the JSON format; the previous set-up restored after."""
    root = logging.getLogger()
    handlers, level, saved = root.handlers[:], root.level, structlog.get_config()
    settings = make_settings()
    configure_logging(
        dataclasses.replace(settings, relay=dataclasses.replace(settings.relay, log_format="json"))
    )
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    yield written
    root.handlers[:], root.level = handlers, level
    structlog.configure(**saved)


def test_a_stdlib_exception_is_logged_with_its_traceback(json_log: io.StringIO) -> None:
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        logging.getLogger("celery.app.trace").error("Task failed", exc_info=True)
    line = json.loads(json_log.getvalue())
    assert line["event"] == "Task failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("ZeroDivisionError: division by zero")
    assert "exc_info" not in line
