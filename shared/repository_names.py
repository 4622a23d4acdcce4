"""Strict repository names (`workspace/slug`, DC `PROJECT/slug`): safe as URL path segments.

Bitbucket slugs are letters, digits, `-`, `_` and `.` (DC personal projects start with `~`). A
segment of dots only (`.`, `..`) would be resolved by the HTTP client into another path, so it
is refused, as is anything else outside that set.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,128}\Z")
FULL_NAME_RULE = "expected 'workspace/repo_slug' of letters, digits, '-', '_', '.' or '~'"


def is_valid_segment(segment: str) -> bool:
    """A workspace, project key or slug that stays one path segment."""
    return bool(_SEGMENT.match(segment)) and segment.strip(".") != ""


def is_valid_full_name(full_name: str) -> bool:
    """`owner/slug`, each part a valid segment."""
    owner, slash, slug = full_name.partition("/")
    return bool(slash) and is_valid_segment(owner) and is_valid_segment(slug)
