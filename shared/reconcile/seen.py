"""The last commit the relay handled per repository and branch: one small Redis hash each."""

from __future__ import annotations

import redis

PREFIX = "bbrelay:heads:"


def heads_key(repository: str) -> str:
    return f"{PREFIX}{repository.lower()}"


def record_head(
    client: redis.Redis[bytes], repository: str, branch: str, commit: str | None
) -> None:
    """Remember `commit` as the branch's head; None (a deleted branch) forgets the branch."""
    if commit:
        client.hset(heads_key(repository), branch, commit)
    else:
        client.hdel(heads_key(repository), branch)


def seen_heads(client: redis.Redis[bytes], repository: str) -> dict[str, str]:
    raw = client.hgetall(heads_key(repository))
    return {branch.decode(): commit.decode() for branch, commit in raw.items()}


def forget_branches(client: redis.Redis[bytes], repository: str, branches: tuple[str, ...]) -> None:
    if branches:
        client.hdel(heads_key(repository), *branches)
