"""Celery's shelve scheduler, but it creates its file's directory (a fresh clone has no var/)."""

from __future__ import annotations

from pathlib import Path

from celery.beat import PersistentScheduler


class SchedulerMakingItsDirectory(PersistentScheduler):  # type: ignore[misc]
    """`--schedule var/celerybeat-schedule` works before anything has made `var/`."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()
