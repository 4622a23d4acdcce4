"""The inventory in Redis: one hash of documents per workspace and type, a status, and the
sink's outbox, written together so that every saved change is queued for the sink.

Beside each document is when what it says was seen (a webhook's receipt, a pass's start). A
webhook and a pass each read, diff and write; the write is a compare-and-set (WATCH on those
times) that drops a change seen before the stored one, so an older view never overwrites a
newer one, whoever writes last."""

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

    def apply(
        self, workspace: str, changes: list[Change], *, to_sink: bool, seen_at: float
    ) -> list[Change]:
        """Write the changes not seen before what is stored, and (with a sink) queue them as
        one body, in one transaction; the changes written."""
        if not changes:
            return []
        seen_keys = sorted({_key(workspace, f"seen:{change.type}") for change in changes})
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*seen_keys)
                    written = _not_older(pipe, workspace, changes, seen_at)
                    pipe.multi()
                    self._write(pipe, workspace, written, to_sink=to_sink, seen_at=seen_at)
                    pipe.execute()
                    return written
                except redis.WatchError:
                    continue

    @staticmethod
    def _write(
        pipe: Any, workspace: str, written: list[Change], *, to_sink: bool, seen_at: float
    ) -> None:
        for change in written:
            documents, seen = _key(workspace, change.type), _key(workspace, f"seen:{change.type}")
            if change.op == "upsert":
                pipe.hset(documents, change.id, json.dumps(change.document))
                pipe.hset(seen, change.id, repr(seen_at))
            else:
                pipe.hdel(documents, change.id)
                pipe.hdel(seen, change.id)
        if to_sink and written:
            body = {"workspace": workspace, "changes": [c.to_json() for c in written]}
            pipe.rpush(_key(workspace, "outbox"), encode(body))

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


def _not_older(pipe: Any, workspace: str, changes: list[Change], seen_at: float) -> list[Change]:
    """The changes seen no earlier than the stored documents they replace (read while WATCHed)."""
    newest: dict[tuple[str, str], float] = {}
    for kind in sorted({change.type for change in changes}):
        keys = [c.id for c in changes if c.type == kind]
        times = pipe.hmget(_key(workspace, f"seen:{kind}"), keys)
        for key, raw in zip(keys, times, strict=True):
            if raw is not None:
                newest[(kind, key)] = float(raw)
    return [c for c in changes if newest.get((c.type, c.id), seen_at) <= seen_at]
