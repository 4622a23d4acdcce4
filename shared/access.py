"""Allow and block lists with globs, for repositories and workspaces (block wins)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from shared.settings import AccessLists


def matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    """Case-insensitive glob match: Bitbucket slugs and DC project keys differ only in case."""
    lowered = value.lower()
    return any(fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def is_allowed(value: str, lists: AccessLists) -> bool:
    """Not blocked, and allowed by an empty allow list or a matching pattern."""
    if matches_any(value, lists.block):
        return False
    return not lists.allow or matches_any(value, lists.allow)


def event_allowed(
    workspace: str | None,
    repository: str | None,
    workspaces: AccessLists,
    repositories: AccessLists,
) -> bool:
    """Whether an event from this workspace (DC: project) and repository may pass."""
    if workspace is not None and not is_allowed(workspace, workspaces):
        return False
    return repository is None or is_allowed(repository, repositories)
