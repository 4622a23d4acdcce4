"""One sync of one workspace: read everything, map roles, diff, and apply only when safe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from shared.access import is_allowed
from shared.bitbucket.client import BitbucketClient
from shared.config.settings import Settings
from shared.teams.mapping import role_for
from shared.teams.metrics import TEAM_SYNCS
from shared.teams.reader import Directory, read_cloud, read_server
from shared.teams.snapshot import Diff, Member, diff
from shared.teams.store import TeamStore

log = structlog.get_logger(__name__)

# Team sync is a batch read that must finish in one go (a retry would start again from page
# one), so its client waits for tokens up to this long each instead of giving up after 1 s.
TEAM_SYNC_TOKEN_WAIT = 60.0
# Time limits of the sync task: room for a large directory read through a slow bucket.
TEAM_SYNC_SOFT_LIMIT = 1800
TEAM_SYNC_HARD_LIMIT = 1900


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
        groups = tuple(sorted(set(directory.groups.get(user.id, ()))))
        names = [directory.group_names[g] for g in groups if g in directory.group_names]
        role = role_for([*groups, *names], teams.mapping, teams.default_role, teams.role_order)
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
                TEAM_SYNCS.labels("failed").inc()
                store.record_attempt(workspace, error=f"{type(exc).__name__}: {exc}"[:500])
            log.warning("teams.sync_failed", workspace=workspace, error=str(exc))
            raise
        for warning in directory.warnings:
            log.warning("teams.partial_source", workspace=workspace, warning=warning)
        current = members_of(directory, settings)
        previous = store.snapshot(workspace)
        changes = diff(previous or {}, current)
        warnings = tuple(directory.warnings)
        reason = _too_many_removals(previous, changes, settings.teams.max_removal_ratio)
        held = None if force else reason
        if dry_run:
            return SyncReport(workspace, changes, len(current), False, held, warnings)
        store.record_attempt(workspace, warnings="; ".join(warnings))
        if held:
            TEAM_SYNCS.labels("held").inc()
            store.hold(workspace, changes, held)
            log.warning("teams.diff_held", workspace=workspace, reason=held)
            return SyncReport(workspace, changes, len(current), False, held, warnings)
        now = time.time()
        outbox = None
        if not changes.empty and settings.teams.sink is not None:
            outbox = {"workspace": workspace, "at": now, **changes.to_json()}
        store.save(workspace, current, changes, now, outbox)
        TEAM_SYNCS.labels("unchanged" if changes.empty else "applied").inc()
        log.info("teams.synced", workspace=workspace, members=len(current), diff=changes.summary())
        return SyncReport(workspace, changes, len(current), True, None, warnings)


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
