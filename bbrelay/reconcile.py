"""`bbrelay reconcile [--dry-run]`: one reconcile pass here; what it starts and the calls spent."""

from __future__ import annotations

import time
from typing import Any

from receiver.enqueue import CeleryEnqueuer
from shared.bitbucket.factory import build_client
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.reconcile.run import PassReport, Reconciler
from shared.redis import connect
from shared.sealing import Sealer


def reconcile_now(settings: Settings, *, dry_run: bool) -> int:
    client_redis = connect(settings.relay.redis_url)
    enqueuer = CeleryEnqueuer(settings)

    def send(event: dict[str, Any], task_id: str) -> None:
        enqueuer.enqueue(event, task_id)

    store = DeliveryStore(
        client_redis,
        dedupe_window=settings.relay.dedupe_window,
        deadline=settings.relay.recovery.delivery_deadline,
    )
    client = build_client(
        settings.bitbucket,
        client_redis,
        Sealer(settings.relay.encryption_keys),
        sign_in=settings.sign_in,
    )
    report = Reconciler(settings, client, client_redis, store, send).run(dry_run=dry_run)
    for line in describe(report):
        print(line)
    return 0


def describe(report: PassReport) -> list[str]:
    """The lines `bbrelay reconcile` and `bbrelay check` print about a pass."""
    verb = "would start" if report.dry_run else "started"
    lines = [_summary(report)]
    lines += [f"  {verb} {line}" for line in report.started]
    lines += [f"  deleted {line}" for line in report.deleted]
    return lines


def _summary(report: PassReport) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.at))
    if report.outcome == "nothing":
        return (
            "reconcile: no workspace to look at (name them in repositories/workspaces.allowList "
            "or teamSync.workspaceWhitelist)"
        )
    if report.outcome == "baseline":
        return f"reconcile at {when}: baseline recorded; pushes after it are looked for next pass"
    stopped = "; stopped at its budget, the rest next pass" if report.outcome == "budget" else ""
    return (
        f"reconcile at {when}: {report.updated} repositories updated, {report.examined} examined, "
        f"{len(report.started)} head(s) to start, {len(report.deleted)} branch(es) deleted, "
        f"{report.calls} API calls, {report.pending} pending{stopped}"
    )
