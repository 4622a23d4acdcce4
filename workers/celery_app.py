"""The Celery app of the workers (`celery -A workers.celery_app:app worker`)."""

from __future__ import annotations

from celery import Celery

from shared.celery_config import celery_config
from shared.config import load_settings
from shared.config.settings import Settings
from shared.task_names import INVENTORY, RECONCILE, SYNC_TEAMS
from workers.broker import transport_for

TASK_MODULES = [
    "workers.tasks.events",
    "workers.tasks.inventory",
    "workers.tasks.jobs",
    "workers.tasks.reconcile",
    "workers.tasks.teams",
]


def make_celery(settings: Settings) -> Celery:
    """A Celery app configured from settings; task modules are imported by name."""
    app = Celery(
        "bbrelay",
        include=TASK_MODULES,
        set_as_current=True,
        task_cls="workers.tasks.base:RelayTask",
    )
    config = celery_config(settings)
    app.conf.update(config, broker_transport=transport_for(config["broker_url"]))
    app.conf.beat_scheduler = "workers.beat_scheduler:SchedulerMakingItsDirectory"
    schedule = {}
    if settings.team_sync.enabled:
        interval = settings.teams.sync_interval
        schedule["sync-teams"] = {
            "task": SYNC_TEAMS,
            "schedule": interval,
            "options": {"expires": interval},
        }
    if settings.bitbucket.reconciles:
        every = settings.bitbucket.reconcile.interval
        schedule["reconcile"] = {
            "task": RECONCILE,
            "schedule": every,
            "options": {"expires": every},
        }
    inventory = settings.bitbucket.inventory
    if inventory.enabled and settings.bitbucket.has_credentials:
        schedule["inventory"] = {
            "task": INVENTORY,
            "schedule": inventory.interval,
            "options": {"expires": inventory.interval},
        }
    if schedule:
        app.conf.beat_schedule = schedule
    return app


settings = load_settings()
app = make_celery(settings)

from workers import beat_heartbeat, first_sync, metrics_server, recovery, signals  # noqa: E402

signals.connect(settings)
recovery.connect(settings)
beat_heartbeat.connect_heartbeat(settings)
first_sync.connect_first_sync(app, settings)
metrics_server.connect(settings.relay)
