"""Deterministic members and groups for the fake Bitbucket (Cloud workspace or DC server)."""

from __future__ import annotations

from typing import Any

from tests.fakes.bitbucket_server import FakeBitbucket

PERMISSIONS = ("owner", "member", "collaborator")


def user_key(n: int) -> str:
    return f"{{user-{n:05d}}}"


def cloud_user(n: int) -> dict[str, Any]:
    return {
        "type": "user",
        "uuid": user_key(n),
        "account_id": f"acc-{n:05d}",
        "nickname": f"user{n:05d}",
        "display_name": f"User {n}",
    }


def server_user(n: int, active: bool = True) -> dict[str, Any]:
    return {
        "id": n,
        "name": f"user{n:05d}",
        "slug": f"user{n:05d}",
        "displayName": f"User {n}",
        "active": active,
        "type": "NORMAL",
    }


def group_slug(g: int) -> str:
    return f"group-{g:02d}"


def seed(fake: FakeBitbucket, workspace: str, members: int, groups: int) -> None:
    """`members` users; user n is in group n % groups; Cloud permission cycles through three."""
    directory = fake.directory(workspace if fake.product == "cloud" else "")
    for n in range(members):
        add_member(fake, workspace, n, group=n % groups)
    for g in range(groups):
        directory.groups.setdefault(group_slug(g), {"name": f"Group {g}", "members": []})


def add_member(fake: FakeBitbucket, workspace: str, n: int, group: int | None) -> None:
    cloud = fake.product == "cloud"
    directory = fake.directory(workspace if cloud else "")
    key = user_key(n) if cloud else f"user{n:05d}"
    with fake.lock:
        directory.users[key] = cloud_user(n) if cloud else server_user(n)
        directory.permissions[key] = PERMISSIONS[n % 3] if n % 50 == 0 else "member"
        if group is not None:
            slug = group_slug(group)
            directory.groups.setdefault(slug, {"name": f"Group {group}", "members": []})
            directory.groups[slug]["members"].append(key)


def remove_member(fake: FakeBitbucket, workspace: str, n: int) -> None:
    cloud = fake.product == "cloud"
    directory = fake.directory(workspace if cloud else "")
    key = user_key(n) if cloud else f"user{n:05d}"
    with fake.lock:
        directory.users.pop(key)
        for group in directory.groups.values():
            if key in group["members"]:
                group["members"].remove(key)


def move_member(fake: FakeBitbucket, workspace: str, n: int, to_group: int) -> None:
    cloud = fake.product == "cloud"
    directory = fake.directory(workspace if cloud else "")
    key = user_key(n) if cloud else f"user{n:05d}"
    with fake.lock:
        for group in directory.groups.values():
            if key in group["members"]:
                group["members"].remove(key)
        directory.groups[group_slug(to_group)]["members"].append(key)
