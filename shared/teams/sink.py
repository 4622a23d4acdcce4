"""Deliver each diff to `teams.bitbucket.sink.url`, signed, in order, until accepted."""

from __future__ import annotations

import httpx
import structlog

from shared.config.settings import TeamSink
from shared.outbox import SinkUnavailable, deliver
from shared.teams.store import SyncInProgress, TeamStore

__all__ = ["SinkUnavailable", "deliver_outbox"]

log = structlog.get_logger(__name__)


def deliver_outbox(store: TeamStore, http: httpx.Client, sink: TeamSink, workspace: str) -> int:
    """POST queued diffs oldest first; stop at the first refusal. Returns how many went.

    One deliverer per workspace at a time, so a slow copy of an older diff can never land
    after a newer one; a second deliverer gets SinkUnavailable and retries later.
    """
    try:
        with store.lock(workspace, "sink delivery"):
            sent = deliver(store.outbox(workspace), http, sink.url, sink.secret, what="team")
    except SyncInProgress as exc:
        raise SinkUnavailable(str(exc), retry_after=5.0) from exc
    if sent:
        log.info("teams.diffs_delivered", workspace=workspace, count=sent)
    return sent
