"""A workspace's members with their groups and roles, and what changed between two of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Member:
    user_id: str
    nickname: str
    display_name: str
    groups: tuple[str, ...]
    role: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(
            user_id=data["user_id"],
            nickname=data["nickname"],
            display_name=data["display_name"],
            groups=tuple(data["groups"]),
            role=data["role"],
        )


@dataclass(frozen=True)
class Diff:
    added: tuple[Member, ...] = ()
    removed: tuple[Member, ...] = ()
    changed: tuple[dict[str, Any], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [asdict(m) for m in self.added],
            "removed": [asdict(m) for m in self.removed],
            "changed": list(self.changed),
        }

    def summary(self) -> str:
        roles = sum(1 for change in self.changed if "role" in change)
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, "
            f"{roles} role changes, {len(self.changed) - roles} group-only changes"
        )


def diff(previous: dict[str, Member], current: dict[str, Member]) -> Diff:
    """Added, removed, and changed (role and/or groups) members, in user-id order."""
    added = tuple(current[k] for k in sorted(current.keys() - previous.keys()))
    removed = tuple(previous[k] for k in sorted(previous.keys() - current.keys()))
    changed = []
    for key in sorted(current.keys() & previous.keys()):
        old, new = previous[key], current[key]
        change: dict[str, Any] = {"user_id": key, "nickname": new.nickname}
        if old.role != new.role:
            change["role"] = [old.role, new.role]
        if old.groups != new.groups:
            change["groups"] = [list(old.groups), list(new.groups)]
        if len(change) > 2:
            changed.append(change)
    return Diff(added, removed, tuple(changed))
