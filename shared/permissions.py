"""Whether `global.git.bitbucket.permissions` lets the relay make a write in a repository.

Studio's block: `default` and per-repository `repositories: {"ws/repo": {repository: write}}`,
each naming `repository`, `pullrequest`, `pipeline` (and Studio's `issues`) as read, write or
admin. A repository with a block of its own is governed by that block alone, and a permission
a block does not name is read. Without the key nothing is gated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.config.settings import BitbucketSettings, RepositoryPermissions

Write = Literal["build status", "webhook", "pipeline trigger", "pull request"]
Permission = Literal["repository", "pipeline", "pullrequest"]

NEEDS: dict[Write, Permission] = {
    "build status": "repository",
    "webhook": "repository",
    "pipeline trigger": "pipeline",
    "pull request": "pullrequest",
}
WRITING_LEVELS = frozenset({"write", "admin"})
KEY = "global.git.bitbucket.permissions"


@dataclass(frozen=True)
class Refusal:
    """A write the permissions do not allow, and why."""

    repository: str
    write: Write
    permission: Permission
    level: str

    @property
    def log_fields(self) -> dict[str, str]:
        """What the `permissions.write_refused` log line says about it."""
        return {
            "repository": self.repository,
            "write": self.write,
            "permission": self.permission,
            "level": self.level,
        }

    def __str__(self) -> str:
        return (
            f"{self.write} not sent: {KEY} gives {self.repository} {self.permission}: "
            f"{self.level}, and a {self.write} needs {self.permission}: write"
        )


def level_in(permissions: RepositoryPermissions, repository: str, permission: Permission) -> str:
    """The level a repository has for `permission`: its own block's, else the default's."""
    blocks = {name.casefold(): block for name, block in permissions.repositories.items()}
    block = blocks.get(repository.casefold(), permissions.default)
    return block.get(permission, "read")


def refusal(
    permissions: RepositoryPermissions | None, repository: str, write: Write
) -> Refusal | None:
    """None when the write may be sent; else what the permissions lack."""
    if permissions is None:
        return None
    permission = NEEDS[write]
    level = level_in(permissions, repository, permission)
    if level in WRITING_LEVELS:
        return None
    return Refusal(repository, write, permission, level)


def conflicts(bitbucket: BitbucketSettings) -> list[str]:
    """Enabled features the permissions forbid somewhere (the default or a repository)."""
    permissions = bitbucket.permissions
    if permissions is None:
        return []
    wanted: list[tuple[str, Permission]] = []
    if bitbucket.build_status.enabled:
        wanted.append(("buildStatus.enabled", "repository"))
    pipeline_rules = [rule.name for rule in bitbucket.jobs if rule.runner == "pipeline"]
    if pipeline_rules:
        wanted.append((f"pipeline jobs ({', '.join(pipeline_rules)})", "pipeline"))
    if bitbucket.pipelines.data_change.enabled:
        wanted.append(("pipelines.triggers.dataChange.enabled", "pipeline"))
    scopes = [("default", permissions.default)]
    scopes += [(f"repositories.{name}", block) for name, block in permissions.repositories.items()]
    found = []
    for feature, permission in wanted:
        for where, block in scopes:
            level = block.get(permission, "read")
            if level not in WRITING_LEVELS:
                found.append(
                    f"{KEY}.{where}: {permission}: {level}, but {feature} needs "
                    f"{permission}: write; those writes are not sent"
                )
    return found
