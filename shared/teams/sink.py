"""Deliver each diff to `teams.bitbucket.sink.url`, signed, in order, until accepted."""

from __future__ import annotations

import httpx
import structlog

from shared.bitbucket.errors import RetryableError
from shared.config.settings import TeamSink
from shared.signing import signed_headers
from shared.teams.store import SyncInProgress, TeamStore

log = structlog.get_logger(__name__)


class SinkUnavailable(RetryableError):
    """The sink did not accept a diff; it stays at the head of the outbox."""


def deliver_outbox(store: TeamStore, http: httpx.Client, sink: TeamSink, workspace: str) -> int:
    """POST queued diffs oldest first; stop at the first refusal. Returns how many went.

    One deliverer per workspace at a time, so a slow copy of an older diff can never land
    after a newer one; a second deliverer gets SinkUnavailable and retries later.
    """
    try:
        with store.lock(workspace, "sink delivery"):
            return _deliver(store, http, sink, workspace)
    except SyncInProgress as exc:
        raise SinkUnavailable(str(exc), retry_after=5.0) from exc


def _deliver(store: TeamStore, http: httpx.Client, sink: TeamSink, workspace: str) -> int:
    sent = 0
    while (head := store.outbox_head(workspace)) is not None:
        headers = {"Content-Type": "application/json", **signed_headers(sink.secret.reveal(), head)}
        try:
            response = http.post(sink.url, content=head, headers=headers)
        except httpx.TransportError as exc:
            raise SinkUnavailable(f"team sink unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise SinkUnavailable(f"team sink answered {response.status_code}")
        store.pop_outbox_head(workspace, head)
        sent += 1
    if sent:
        log.info("teams.diffs_delivered", workspace=workspace, count=sent)
    return sent
