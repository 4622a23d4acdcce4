"""Celery's shelve scheduler, but it creates its file's directory (a fresh clone has no var/)."""

from __future__ import annotations

from pathlib import Path

from celery.beat import PersistentScheduler

from shared.private_files import make_private_dir


class SchedulerMakingItsDirectory(PersistentScheduler):  # type: ignore[misc]
    """`--schedule var/celerybeat-schedule` works before anything has made `var/`."""

    def setup_schedule(self) -> None:
        make_private_dir(Path(self.schedule_filename).parent)
        super().setup_schedule()
