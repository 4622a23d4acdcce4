"""Which whitelisted workspaces a person signing in belongs to, and the one role they get.

The team-sync snapshot answers when a workspace has one; otherwise one live look at the person's
own memberships (their groups) decides, with the same mapping rules as team sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.config.settings import TeamsSettings
from shared.teams.mapping import role_for
from shared.teams.snapshot import Member

ANY_WORKSPACE = "*"  # Server/DC: the live groups hold for every whitelisted name


@dataclass(frozen=True)
class Membership:
    workspaces: tuple[str, ...]
    role: str


def membership(
    user_id: str,
    whitelist: Sequence[str],
    teams: TeamsSettings,
    snapshot: Callable[[str], Mapping[str, Member] | None],
    live_groups: Callable[[], Mapping[str, Sequence[str]]],
) -> Membership | None:
    """The workspaces (in whitelist order) and highest role; None when in none of them.

    `live_groups` maps a workspace (or ANY_WORKSPACE) to the person's groups there; it is called
    at most once, and only for workspaces team sync has not read yet.
    """
    workspaces: list[str] = []
    roles: list[str] = []
    live: Mapping[str, Sequence[str]] | None = None
    for workspace in whitelist:
        members = snapshot(workspace)
        if members is not None:
            member = members.get(user_id)
            if member is None:
                continue
            role = member.role
        else:
            live = live_groups() if live is None else live
            groups = live.get(workspace.lower(), live.get(ANY_WORKSPACE))
            if groups is None:
                continue
            role = role_for(groups, teams.mapping, teams.default_role, teams.role_order)
        workspaces.append(workspace)
        roles.append(role)
    if not workspaces:
        return None
    rank = {role: index for index, role in enumerate(teams.role_order)}
    return Membership(tuple(workspaces), min(roles, key=lambda r: rank.get(r, len(rank))))
