"""Which platform role a member gets: the highest role of its groups, else the default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def role_for(
    groups: Iterable[str],
    mapping: Mapping[str, str],
    default_role: str,
    role_order: Sequence[str],
) -> str:
    """The highest mapped role among `groups` (slugs or names, any case), else `default_role`.

    `role_order` lists roles from highest to lowest; a mapped role missing from it ranks lowest.
    """
    lowered = {key.lower(): role for key, role in mapping.items()}
    roles = [lowered[group.lower()] for group in groups if group.lower() in lowered]
    if not roles:
        return default_role
    rank = {role: index for index, role in enumerate(role_order)}
    return min(roles, key=lambda role: rank.get(role, len(rank)))
