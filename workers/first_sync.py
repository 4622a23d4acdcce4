"""The first team sync runs when beat starts, not one whole `syncInterval` later."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery, signals

from shared.config.settings import Settings
from shared.task_names import SYNC_TEAMS

log = structlog.get_logger(__name__)


def connect_first_sync(app: Celery, settings: Settings) -> None:
    """On beat's start, queue one team sync when team sync is on."""
    if not settings.team_sync.enabled:
        return
    interval = settings.teams.sync_interval

    def on_beat_init(**_: Any) -> None:
        app.send_task(SYNC_TEAMS, expires=interval)
        log.info("teams.first_sync_queued")

    signals.beat_init.connect(on_beat_init, weak=False)
