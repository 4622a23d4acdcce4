"""`bbrelay sync-teams`: run the team sync in this process and print what changed."""

from __future__ import annotations

import sys

import httpx

from shared.access import is_allowed
from shared.bitbucket.errors import BitbucketError
from shared.bitbucket.factory import build_client, http_options
from shared.config.settings import Settings
from shared.redis import connect
from shared.sealing import Sealer
from shared.teams.sink import deliver_outbox
from shared.teams.snapshot import Diff
from shared.teams.store import SyncInProgress, TeamStore
from shared.teams.sync import TEAM_SYNC_TOKEN_WAIT, run_sync, workspaces_to_sync


def sync_teams_now(settings: Settings, workspace: str | None, *, dry_run: bool, force: bool) -> int:
    """Exit status 0 when every workspace synced (or was held and said so), 1 otherwise."""
    if workspace is not None:
        if not is_allowed(workspace, settings.bitbucket.workspaces):
            print(f"{workspace} is blocked by workspaces.allowList/blockList", file=sys.stderr)
            return 1
        names = [workspace]
    else:
        names = workspaces_to_sync(settings)
        if not names:
            print("team sync is off or no workspace is whitelisted (auth.bitbucket.teamSync)")
            return 0
    client_redis = connect(settings.relay.redis_url)
    sealer = Sealer(settings.relay.encryption_keys)
    client = build_client(
        settings.bitbucket,
        client_redis,
        sealer,
        max_inline_wait=TEAM_SYNC_TOKEN_WAIT,
        background=True,
        sign_in=settings.sign_in,
    )
    store = TeamStore(client_redis)
    failed = 0
    for name in names:
        try:
            report = run_sync(client, store, settings, name, dry_run=dry_run, force=force)
        except (BitbucketError, SyncInProgress) as exc:
            print(f"{name}: not synced: {exc}", file=sys.stderr)
            failed += 1
            continue
        verb = "would change" if dry_run else ("held" if report.held_reason else "synced")
        print(f"{name}: {report.members} members; {verb}: {report.diff.summary()}")
        for warning in report.warnings:
            print(f"  warning: {warning}")
        if report.held_reason:
            print(f"  {report.held_reason}")
        _print_diff(report.diff)
        if report.applied and settings.teams.sink is not None:
            _deliver(settings, store, name)
    return 1 if failed else 0


def _print_diff(diff: Diff) -> None:
    for member in diff.added:
        print(f"  + {member.nickname:24} {member.role:8} {', '.join(member.groups)}")
    for member in diff.removed:
        print(f"  - {member.nickname:24} {member.role}")
    for change in diff.changed:
        role = " -> ".join(change["role"]) if "role" in change else "(role unchanged)"
        print(f"  ~ {change['nickname']:24} {role}")


def _deliver(settings: Settings, store: TeamStore, workspace: str) -> None:
    assert settings.teams.sink is not None
    options = http_options(settings.bitbucket, settings.teams.sink.tls)
    with httpx.Client(**options) as http:  # type: ignore[arg-type]
        try:
            sent = deliver_outbox(store, http, settings.teams.sink, workspace)
            print(f"  sink: {sent} diff(s) delivered")
        except BitbucketError as exc:
            waiting = store.outbox_length(workspace)
            print(f"  sink: {exc}; {waiting} diff(s) wait in the outbox for the worker")
