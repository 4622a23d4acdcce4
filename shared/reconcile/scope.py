"""Which workspaces the reconciler lists, from the allow lists or team sync's whitelist."""

from __future__ import annotations

from shared.access import event_refusal
from shared.config.settings import Settings

_GLOB = "*?["


def workspaces_to_reconcile(settings: Settings) -> tuple[str, ...]:
    """Owners named in `repositories.allowList` and `workspaces.allowList` (literal names; a
    repository glob is expanded within its named workspace, as `bbrelay hooks install` does);
    with both lists empty, team sync's `workspaceWhitelist`; otherwise none."""
    bitbucket = settings.bitbucket
    names: list[str] = []
    for pattern in bitbucket.repositories.allow:
        owner = pattern.partition("/")[0]
        if owner and not any(c in owner for c in _GLOB):
            names.append(owner)
    names += [p for p in bitbucket.workspaces.allow if not any(c in p for c in _GLOB)]
    if not bitbucket.repositories.allow and not bitbucket.workspaces.allow:
        names += settings.team_sync.workspace_whitelist
    return tuple(dict.fromkeys(name.lower() for name in names))


def may_reconcile(settings: Settings, repository: str) -> bool:
    """The access lists let this repository's events through."""
    bitbucket = settings.bitbucket
    workspace = repository.partition("/")[0]
    return (
        event_refusal(workspace, repository, bitbucket.workspaces, bitbucket.repositories) is None
    )
