"""The branch names a pass last listed per repository: a branch missing from them is new."""

from __future__ import annotations

from collections.abc import Iterable

import redis

PREFIX = "bbrelay:reconcile:branches:"


def listed_key(repository: str) -> str:
    return f"{PREFIX}{repository.lower()}"


def listed_before(client: redis.Redis[bytes], repository: str) -> set[str] | None:
    """The names the previous listing found; None when the repository was never listed."""
    names = client.smembers(listed_key(repository))
    return {name.decode() for name in names} if names else None


def remember_listing(
    client: redis.Redis[bytes], repository: str, names: Iterable[str], *, complete: bool
) -> None:
    """Keep this listing's names: in place of the last when complete, else added to them
    (a listing that stopped early says nothing of the branches after it)."""
    key = listed_key(repository)
    found = list(names)
    pipe = client.pipeline()
    if complete:
        pipe.delete(key)
    if found:
        pipe.sadd(key, *found)
    pipe.execute()
