"""Team sync tasks: beat's fan-out, one workspace's sync, and delivering diffs to the sink."""

from __future__ import annotations

import structlog
from celery import Task

from shared.task_names import DELIVER_TEAM_DIFFS, SYNC_TEAMS, SYNC_WORKSPACE
from shared.teams.sink import deliver_outbox
from shared.teams.store import SyncInProgress
from shared.teams.sync import (
    TEAM_SYNC_HARD_LIMIT,
    TEAM_SYNC_SOFT_LIMIT,
    run_sync,
    workspaces_to_sync,
)
from workers.celery_app import app
from workers.retrying import bitbucket_retries
from workers.scheduling import schedule
from workers.services import services

log = structlog.get_logger(__name__)


@app.task(name=SYNC_TEAMS)  # type: ignore[untyped-decorator]
def sync_teams() -> list[str]:
    """Beat's entry: one sync task per allowed workspace."""
    names = workspaces_to_sync(services().settings)
    for workspace in names:
        schedule(SYNC_WORKSPACE, [workspace], 0)
    return names


@app.task(  # type: ignore[untyped-decorator]
    name=SYNC_WORKSPACE,
    bind=True,
    max_retries=5,
    soft_time_limit=TEAM_SYNC_SOFT_LIMIT,
    time_limit=TEAM_SYNC_HARD_LIMIT,
)
def sync_workspace(self: Task, workspace: str, force: bool = False) -> str:
    structlog.contextvars.bind_contextvars(workspace=workspace)
    current = services()
    try:
        with bitbucket_retries(self):
            report = run_sync(
                current.patient_bitbucket, current.teams, current.settings, workspace, force=force
            )
    except SyncInProgress:
        log.info("teams.sync_skipped", reason="a sync of this workspace is still running")
        return "skipped"
    if current.settings.teams.sink is not None and current.teams.outbox_length(workspace):
        schedule(DELIVER_TEAM_DIFFS, [workspace], 0)
    return report.diff.summary() if report.applied else f"held: {report.held_reason}"


@app.task(name=DELIVER_TEAM_DIFFS, bind=True, max_retries=200)  # type: ignore[untyped-decorator]
def deliver_team_diffs(self: Task, workspace: str) -> int:
    current = services()
    sink = current.settings.teams.sink
    if sink is None:
        return 0
    with bitbucket_retries(self):
        return deliver_outbox(current.teams, current.platform_http(sink.tls), sink, workspace)
