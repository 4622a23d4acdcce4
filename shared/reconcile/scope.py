"""Which workspaces the reconciler lists, from the allow lists or team sync's whitelist."""

from __future__ import annotations

from shared.access import event_refusal
from shared.config.settings import Settings

_GLOB = "*?["


def workspaces_to_reconcile(settings: Settings) -> tuple[str, ...]:
    """Owners (Cloud workspaces, DC projects) named in `repositories.allowList` and
    `workspaces.allowList`; with both lists empty, team sync's `workspaceWhitelist`; otherwise
    none. A repository glob is expanded within its literally named owner, as `bbrelay hooks
    install` does; an owner glob (`acme-*`) is skipped, as `hooks install` refuses it: listing
    the workspaces a credential can see needs a user's token (`/user/permissions/workspaces`),
    which workspace and repository access tokens cannot call."""
    bitbucket = settings.bitbucket
    names: list[str] = []
    for pattern in bitbucket.repositories.allow:
        owner = pattern.partition("/")[0]
        if owner and not any(c in owner for c in _GLOB):
            names.append(owner)
    names += [p for p in bitbucket.workspaces.allow if not any(c in p for c in _GLOB)]
    if not bitbucket.repositories.allow and not bitbucket.workspaces.allow:
        names += settings.team_sync.workspace_whitelist
    first: dict[str, str] = {}  # one entry per name whatever its case, as first written
    for name in names:
        first.setdefault(name.lower(), name)
    # Cloud slugs are lower case; a DC project key is used as written.
    return tuple(first if bitbucket.product == "cloud" else first.values())


def may_reconcile(settings: Settings, repository: str) -> bool:
    """The access lists let this repository's events through."""
    bitbucket = settings.bitbucket
    workspace = repository.partition("/")[0]
    return (
        event_refusal(workspace, repository, bitbucket.workspaces, bitbucket.repositories) is None
    )
