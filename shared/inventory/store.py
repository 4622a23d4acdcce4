"""The inventory in Redis: one hash of documents per workspace and type, a status, and the
sink's outbox, written together so that every saved change is queued for the sink."""

from __future__ import annotations

import json
from typing import Any

import redis

from shared.inventory.changes import Change, Stored
from shared.inventory.entities import TYPES, Document
from shared.outbox import Outbox, encode

PREFIX = "bbrelay:inventory"
PAGE = 100


def _key(workspace: str, part: str) -> str:
    return f"{PREFIX}:{workspace.lower()}:{part}"


class InventoryStore:
    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.redis = client

    def documents(self, workspace: str, kind: str) -> dict[str, Document]:
        raw = self.redis.hgetall(_key(workspace, kind))
        return {key.decode(): json.loads(value) for key, value in raw.items()}

    def stored(self, workspace: str) -> dict[str, dict[str, Document]]:
        return {kind: self.documents(workspace, kind) for kind in TYPES}

    def stored_of(self, workspace: str, keys: list[tuple[str, str]]) -> Stored:
        """Only the documents of these (type, id)s, for a webhook's few entities."""
        found: dict[str, dict[str, Document]] = {}
        pipe = self.redis.pipeline()
        for kind, key in keys:
            pipe.hget(_key(workspace, kind), key)
        for (kind, key), raw in zip(keys, pipe.execute(), strict=True):
            if raw is not None:
                found.setdefault(kind, {})[key] = json.loads(raw)
        return found

    def apply(self, workspace: str, changes: list[Change], *, to_sink: bool) -> None:
        """Write the changes and (with a sink) queue them as one body, in one transaction."""
        if not changes:
            return
        pipe = self.redis.pipeline(transaction=True)
        for change in changes:
            if change.op == "upsert":
                pipe.hset(_key(workspace, change.type), change.id, json.dumps(change.document))
            else:
                pipe.hdel(_key(workspace, change.type), change.id)
        if to_sink:
            body = {"workspace": workspace, "changes": [c.to_json() for c in changes]}
            pipe.rpush(_key(workspace, "outbox"), encode(body))
        pipe.execute()

    def outbox(self, workspace: str) -> Outbox:
        return Outbox(self.redis, _key(workspace, "outbox"))

    def delivery_lock(self, workspace: str, ttl: float) -> Any:
        """One sink deliverer per workspace, so bodies arrive in order."""
        return self.redis.lock(_key(workspace, "lock:sink"), timeout=ttl, blocking=False)

    def save_pass(self, workspace: str, report: dict[str, Any]) -> None:
        self.redis.set(_key(workspace, "last_pass"), json.dumps(report))

    def last_pass(self, workspace: str) -> dict[str, Any] | None:
        raw = self.redis.get(_key(workspace, "last_pass"))
        return dict(json.loads(raw)) if raw else None

    def counts(self, workspace: str) -> dict[str, int]:
        pipe = self.redis.pipeline()
        for kind in TYPES:
            pipe.hlen(_key(workspace, kind))
        return dict(zip(TYPES, (int(n) for n in pipe.execute()), strict=True))

    def page(self, workspace: str, kind: str, cursor: int) -> tuple[list[Document], int]:
        """About PAGE documents from `cursor` (HSCAN's: 0 starts, 0 returned means done)."""
        following, raw = self.redis.hscan(_key(workspace, kind), cursor, count=PAGE)
        return [json.loads(value) for value in raw.values()], int(following)
