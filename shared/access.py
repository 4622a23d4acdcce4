"""Allow and block lists with globs, for repositories and workspaces (block wins)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from shared.config.settings import AccessLists

WORKSPACE_LISTS = "global.git.bitbucket.workspaces"
REPOSITORY_LISTS = "global.git.bitbucket.repositories"


def matching(value: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern `value` matches, case-insensitively (slugs and DC keys differ in case)."""
    lowered = value.lower()
    return next((p for p in patterns if fnmatchcase(lowered, p.lower())), None)


def matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    """Case-insensitive glob match: Bitbucket slugs and DC project keys differ only in case."""
    return matching(value, patterns) is not None


def refusal(value: str, lists: AccessLists, name: str) -> str | None:
    """Why `lists` (configured at `name`) refuse `value`, or None when they let it pass."""
    blocked_by = matching(value, lists.block)
    if blocked_by is not None:
        return f"{value} matches {blocked_by!r} in {name}.blockList"
    if lists.allow and not matches_any(value, lists.allow):
        return f"{value} is not in {name}.allowList"
    return None


def is_allowed(value: str, lists: AccessLists) -> bool:
    """Not blocked, and allowed by an empty allow list or a matching pattern."""
    return refusal(value, lists, "") is None


def event_refusal(
    workspace: str | None,
    repository: str | None,
    workspaces: AccessLists,
    repositories: AccessLists,
) -> str | None:
    """Why an event from this workspace (DC: project) and repository is filtered, or None."""
    if workspace is not None:
        reason = refusal(workspace, workspaces, WORKSPACE_LISTS)
        if reason is not None:
            return reason
    if repository is None:
        return None
    return refusal(repository, repositories, REPOSITORY_LISTS)
