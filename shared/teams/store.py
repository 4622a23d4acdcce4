"""Team sync state in Redis: snapshot, last diff, status, held diff, sink outbox, and a lock."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from shared.lua import script
from shared.outbox import Outbox, encode
from shared.teams.snapshot import Diff, Member

PREFIX = "bbrelay:teams"


class SyncInProgress(Exception):
    """Another sync of this workspace holds the lock."""


def _key(workspace: str, part: str) -> str:
    return f"{PREFIX}:{workspace.lower()}:{part}"


class TeamStore:
    def __init__(self, client: redis.Redis[bytes], *, lock_ttl: float = 900.0) -> None:
        self.redis = client
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self._release = client.register_script(script("release_lock"))

    @contextmanager
    def lock(self, workspace: str, purpose: str = "sync") -> Iterator[None]:
        """One sync (or one sink delivery) per workspace at a time; a second caller gets
        SyncInProgress at once."""
        token = uuid.uuid4().hex
        key = _key(workspace, "lock" if purpose == "sync" else f"lock:{purpose}")
        if not self.redis.set(key, token, nx=True, px=self.lock_ttl_ms):
            raise SyncInProgress(f"a {purpose} of {workspace} is already running")
        try:
            yield
        finally:
            self._release(keys=[key], args=[token])

    def snapshot(self, workspace: str) -> dict[str, Member] | None:
        raw = self.redis.get(_key(workspace, "snapshot"))
        if raw is None:
            return None
        return {m["user_id"]: Member.from_json(m) for m in json.loads(raw)["members"]}

    def save(
        self,
        workspace: str,
        members: dict[str, Member],
        changes: Diff,
        at: float,
        outbox: dict[str, Any] | None = None,
    ) -> None:
        """Snapshot, status and (when something changed) the diff and its outbox entry, in one
        transaction: a saved change is always queued for the sink."""
        document = {"members": [vars(m) | {"groups": list(m.groups)} for m in members.values()]}
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(_key(workspace, "snapshot"), json.dumps(document))
        if not changes.empty:
            pipe.set(_key(workspace, "diff"), json.dumps({"at": at, **changes.to_json()}))
        pipe.hset(
            _key(workspace, "status"),
            mapping={"last_success": f"{at:.3f}", "last_error": "", "members": len(members)},
        )
        pipe.delete(_key(workspace, "held"))
        if outbox is not None:
            pipe.rpush(_key(workspace, "outbox"), encode(outbox))
        pipe.execute()

    def record_attempt(self, workspace: str, *, error: str = "", warnings: str = "") -> None:
        self.redis.hset(
            _key(workspace, "status"),
            mapping={
                "last_attempt": f"{time.time():.3f}",
                "last_error": error,
                "warnings": warnings,
            },
        )

    def hold(self, workspace: str, changes: Diff, reason: str) -> None:
        held = {"at": time.time(), "reason": reason, **changes.to_json()}
        self.redis.set(_key(workspace, "held"), json.dumps(held))

    def outbox(self, workspace: str) -> Outbox:
        """The workspace's diffs waiting for the sink."""
        return Outbox(self.redis, _key(workspace, "outbox"))

    def push_outbox(self, workspace: str, document: dict[str, Any]) -> None:
        self.outbox(workspace).push(document)

    def outbox_head(self, workspace: str) -> bytes | None:
        return self.outbox(workspace).head()

    def pop_outbox_head(self, workspace: str, head: bytes) -> bool:
        """Drop the head only if it is still `head` (it was delivered)."""
        return self.outbox(workspace).pop_head(head)

    def outbox_length(self, workspace: str) -> int:
        return self.outbox(workspace).length()

    def view(self, workspace: str) -> dict[str, Any] | None:
        """What GET /api/teams/<workspace> shows: snapshot, last diff, held diff, status."""
        pipe = self.redis.pipeline()
        for part in ("snapshot", "diff", "held"):
            pipe.get(_key(workspace, part))
        pipe.hgetall(_key(workspace, "status"))
        pipe.llen(_key(workspace, "outbox"))
        snapshot, last_diff, held, status, outbox = pipe.execute()
        if snapshot is None and not status:
            return None
        return {
            "workspace": workspace,
            "snapshot": json.loads(snapshot)["members"] if snapshot else None,
            "diff": json.loads(last_diff) if last_diff else None,
            "held": json.loads(held) if held else None,
            "status": {k.decode(): v.decode() for k, v in status.items()},
            "outbox": outbox,
        }
