"""Read a workspace's members and their groups through the client (and its token bucket).

Everything is read before anything is used: an error part-way raises, so a partial read can
never become a snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.errors import BitbucketRejected
from shared.bitbucket.models import User

# Atlassian is retiring the 1.0 groups API; these answers mean it is gone for this workspace.
GROUPS_GONE = (404, 410)


@dataclass
class Directory:
    """Members (by id) and the groups (slugs or names) each belongs to."""

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    group_names: dict[str, str] = field(default_factory=dict)  # slug -> display name
    warnings: list[str] = field(default_factory=list)


def read_cloud(client: BitbucketClient, workspace: str) -> Directory:
    """Workspace permissions (members with owner or member), then the 1.0 groups."""
    directory = Directory()
    for user, permission in client.iter_workspace_permissions(workspace):
        directory.users[user.id] = user
        if permission:
            directory.groups[user.id].append(permission)
    try:
        groups = list(client.iter_groups(workspace))
    except BitbucketRejected as exc:
        if exc.status not in GROUPS_GONE:
            raise
        directory.warnings.append(
            f"the 1.0 groups API answered {exc.status} for {workspace}: "
            "roles come from workspace permissions alone"
        )
        return directory
    for group in groups:
        if group.name and group.name != group.slug:
            directory.group_names[group.slug] = group.name
        for member in group.members or ():
            if member.id in directory.users:
                directory.groups[member.id].append(group.slug)
    return directory


def read_server(client: BitbucketClient) -> Directory:
    """Active users, then every group and its members (paged), all outside /admin."""
    directory = Directory()
    by_slug: dict[str, str] = {}
    inactive = 0
    for user in client.iter_users():
        if user.active:
            directory.users[user.id] = user
            by_slug[user.name] = user.id
        else:
            inactive += 1
    for group in list(client.iter_groups("")):
        for member in client.iter_group_members("", group.name):
            if member.name in by_slug:
                directory.groups[by_slug[member.name]].append(group.name)
    if inactive:
        directory.warnings.append(f"{inactive} inactive users left out")
    return directory
