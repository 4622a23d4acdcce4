"""One sync of one workspace: read everything, map roles, diff, and apply only when safe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from shared.access import is_allowed
from shared.bitbucket.client import BitbucketClient
from shared.settings import Settings
from shared.teams.mapping import role_for
from shared.teams.reader import Directory, read_cloud, read_server
from shared.teams.snapshot import Diff, Member, diff
from shared.teams.store import TeamStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SyncReport:
    workspace: str
    diff: Diff
    members: int
    applied: bool
    held_reason: str | None = None
    warnings: tuple[str, ...] = field(default=())


def workspaces_to_sync(settings: Settings) -> list[str]:
    """The team-sync whitelist, filtered by `workspaces` allow/block; none when disabled."""
    if not settings.team_sync.enabled:
        return []
    lists = settings.bitbucket.workspaces
    return [ws for ws in settings.team_sync.workspace_whitelist if is_allowed(ws, lists)]


def members_of(directory: Directory, settings: Settings) -> dict[str, Member]:
    teams = settings.teams
    members = {}
    for user in directory.users.values():
        groups = tuple(
            sorted(set(directory.groups.get(user.id, directory.groups.get(user.name, []))))
        )
        role = role_for(groups, teams.mapping, teams.default_role, teams.role_order)
        members[user.id] = Member(user.id, user.name, user.display_name, groups, role)
    return members


def run_sync(
    client: BitbucketClient,
    store: TeamStore,
    settings: Settings,
    workspace: str,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> SyncReport:
    """Sync `workspace` under its lock. Any read error raises and changes nothing."""
    with store.lock(workspace):
        try:
            if settings.bitbucket.product == "cloud":
                directory = read_cloud(client, workspace)
            else:
                directory = read_server(client)
        except Exception as exc:
            if not dry_run:
                store.record_attempt(workspace, error=f"{type(exc).__name__}: {exc}"[:500])
            log.warning("teams.sync_failed", workspace=workspace, error=str(exc))
            raise
        for warning in directory.warnings:
            log.warning("teams.partial_source", workspace=workspace, warning=warning)
        current = members_of(directory, settings)
        previous = store.snapshot(workspace)
        changes = diff(previous or {}, current)
        report = SyncReport(
            workspace, changes, len(current), False, None, tuple(directory.warnings)
        )
        if dry_run:
            return report
        store.record_attempt(workspace, warnings="; ".join(directory.warnings))
        reason = _too_many_removals(previous, changes, settings.teams.max_removal_ratio)
        if reason and not force:
            store.hold(workspace, changes, reason)
            log.warning("teams.diff_held", workspace=workspace, reason=reason)
            return SyncReport(workspace, changes, len(current), False, reason, report.warnings)
        now = time.time()
        store.save(workspace, current, changes, now)
        if not changes.empty and settings.teams.sink is not None:
            store.push_outbox(workspace, {"workspace": workspace, "at": now, **changes.to_json()})
        log.info("teams.synced", workspace=workspace, members=len(current), diff=changes.summary())
        return SyncReport(workspace, changes, len(current), True, None, report.warnings)


def _too_many_removals(
    previous: dict[str, Member] | None, changes: Diff, max_ratio: float
) -> str | None:
    if not previous:
        return None
    ratio = len(changes.removed) / len(previous)
    if ratio <= max_ratio:
        return None
    return (
        f"would remove {len(changes.removed)} of {len(previous)} members "
        f"({ratio:.0%} > maxRemovalRatio {max_ratio:.0%}); run with --force to apply"
    )
