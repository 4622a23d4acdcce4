"""What changed between the stored inventory and what was seen: pure, no I/O.

A listing that was complete deletes what it no longer names; deleting a repository deletes
its pull requests and pipeline runs too. A partial listing only ever upserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.inventory.entities import Document

Stored = Mapping[str, Mapping[str, Document]]  # type -> id -> document
CHILDREN = ("pull_request", "pipeline_run")  # types that belong to a repository


@dataclass(frozen=True)
class Change:
    op: Literal["upsert", "delete"]
    type: str
    id: str
    document: Document | None

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "type": self.type, "id": self.id, "document": self.document}


def merged(old: Document | None, new: Document) -> Document:
    """`new` over `old`, keeping what `old` knew where `new` says nothing (None): a webhook's
    repository lacks the listing's `updated_on`, a listing lacks the relay's `last_activity`."""
    if old is None:
        return dict(new)
    return {**old, **{key: value for key, value in new.items() if value is not None}}


def upserts(stored: Stored, seen: Iterable[Document]) -> list[Change]:
    """An upsert for each seen document that is new or differs from the stored one."""
    found: list[Change] = []
    for document in seen:
        old = stored.get(document["type"], {}).get(document["id"])
        new = merged(old, document)
        if new != old:
            found.append(Change("upsert", new["type"], new["id"], new))
    return found


def deletions(stored: Stored, listed: Mapping[str, set[str]]) -> list[Change]:
    """Deletes for stored entities of each completely listed type that the listing lacks, and
    what they cascade to."""
    gone = [
        (kind, key)
        for kind, ids in listed.items()
        for key in sorted(stored.get(kind, {}).keys() - ids)
    ]
    return removals(stored, gone)


def removals(stored: Stored, gone: Iterable[tuple[str, str]]) -> list[Change]:
    """Deletes for the stored (type, id)s in `gone`, and for the pull requests and pipeline
    runs of each deleted repository."""
    found = [Change("delete", kind, key, None) for kind, key in gone if key in stored.get(kind, {})]
    repositories = {change.id for change in found if change.type == "repository"}
    for kind in CHILDREN:
        for key, document in sorted(stored.get(kind, {}).items()):
            if document.get("repository") in repositories and (kind, key) not in set(gone):
                found.append(Change("delete", kind, key, None))
    return found
