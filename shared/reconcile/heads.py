"""Which branch heads of one repository a reconcile pass starts: pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Decision:
    starts: tuple[Head, ...]
    deleted: tuple[str, ...]  # branches the relay saw that Bitbucket no longer lists


def decide(
    repository: str, branches: Iterable[Branch], seen: Mapping[str, str], baseline: datetime
) -> Decision:
    """Compare Bitbucket's heads with the last commit the relay handled per branch.

    A branch the relay knows whose head differs is a missed push: `force_push` when the new head
    is dated before the baseline (the branch went back to an older commit), else `moved`. A
    branch the relay never saw counts only when its head is dated after the baseline, so the
    first passes start no old commits. Only the newest head of a branch is visible, so several
    missed pushes to one branch start one event.
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
            if after_baseline:
                starts.append(Head(repository, branch.name, branch.commit, "new"))
            continue
        kind: Kind = "force_push" if branch.date is not None and not after_baseline else "moved"
        starts.append(Head(repository, branch.name, branch.commit, kind))
    return Decision(tuple(starts), tuple(sorted(set(seen) - listed)))
