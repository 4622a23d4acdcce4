"""Which branch heads of one repository a reconcile pass starts: pure, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.bitbucket.models import Branch

Kind = Literal["new", "moved", "force_push"]


@dataclass(frozen=True)
class Head:
    """A branch head the relay never handled, and why it counts as a missed push."""

    repository: str
    branch: str
    commit: str
    kind: Kind
    # The head the relay last handled, when it knew the branch (DC's `fromHash`); not identity.
    previous: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Decision:
    starts: tuple[Head, ...]
    deleted: tuple[str, ...]  # branches the relay saw that Bitbucket no longer lists


def decide(
    repository: str,
    branches: Iterable[Branch],
    seen: Mapping[str, str],
    baseline: datetime,
    listed_before: Collection[str] | None = None,
    *,
    complete: bool = True,
) -> Decision:
    """Compare Bitbucket's heads with the last commit the relay handled per branch.

    A branch the relay knows whose head differs is a missed push: `force_push` when the new head
    is dated before the baseline (the branch went back to an older commit), else `moved`. A
    branch the relay never saw counts when its head is dated after the baseline, so the first
    passes start no old commits, or when the repository's previous listing (`listed_before`)
    did not have it: a branch created since, whatever its commit's date. Only the newest head
    of a branch is visible, so several missed pushes to one branch start one event. Deletions
    are known only from a `complete` listing.
    """
    starts: list[Head] = []
    listed: set[str] = set()
    for branch in branches:
        if not branch.commit:
            continue
        listed.add(branch.name)
        known = seen.get(branch.name)
        if known == branch.commit:
            continue
        after_baseline = branch.date is not None and branch.date > baseline
        if known is None:
            created = listed_before is not None and branch.name not in listed_before
            if after_baseline or created:
                starts.append(Head(repository, branch.name, branch.commit, "new"))
            continue
        kind: Kind = "force_push" if branch.date is not None and not after_baseline else "moved"
        starts.append(Head(repository, branch.name, branch.commit, kind, known))
    deleted = tuple(sorted(set(seen) - listed)) if complete else ()
    return Decision(tuple(starts), deleted)
