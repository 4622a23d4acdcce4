"""`bbrelay inventory [--workspace W] [--dry-run]`: one inventory pass here, and its changes."""

from __future__ import annotations

from collections import Counter

from shared.bitbucket.factory import build_client
from shared.config.settings import Settings
from shared.inventory.full_pass import run_pass, workspaces
from shared.inventory.store import InventoryStore
from shared.redis import connect
from shared.sealing import Sealer


def inventory_now(settings: Settings, *, workspace: str | None, dry_run: bool) -> int:
    """Run a pass of `workspace` (default every inventory workspace); changes are saved and
    queued for the sink unless `dry_run`, when they are only counted."""
    names = [workspace] if workspace else list(workspaces(settings))
    if not names:
        print("inventory: no workspace (name them in inventory.workspaces or the allow lists)")
        return 1
    client_redis = connect(settings.relay.redis_url)
    client = build_client(settings.bitbucket, client_redis, Sealer(settings.relay.encryption_keys))
    store = InventoryStore(client_redis)
    for name in names:
        report, changes = run_pass(client, store, settings, name, dry_run=dry_run)
        kinds = Counter(f"{c.op} {c.type}" for c in changes)
        verb = "would make" if dry_run else "made"
        print(
            f"inventory {name}: {report.outcome}, {report.calls} API calls, {verb} "
            f"{len(changes)} change(s){': ' if kinds else ''}"
            + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        )
        if report.error:
            print(f"  error: {report.error}")
        if report.pending:
            print(f"  {len(report.pending)} repositories left for the next pass")
    return 0
