"""The catalog of Bitbucket webhook event keys, and the friendly aliases job rules may use.

Cloud: https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
Server/Data Center: https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CLOUD_EVENT_KEYS: frozenset[str] = frozenset(
    {
        "repo:push",
        "repo:fork",
        "repo:updated",
        "repo:created",
        "repo:deleted",
        "repo:imported",
        "repo:transfer",
        "repo:commit_comment_created",
        "repo:commit_status_created",
        "repo:commit_status_updated",
        "issue:created",
        "issue:updated",
        "issue:comment_created",
        "project:updated",
        "pullrequest:created",
        "pullrequest:updated",
        "pullrequest:push",
        "pullrequest:approved",
        "pullrequest:unapproved",
        "pullrequest:fulfilled",
        "pullrequest:rejected",
        "pullrequest:changes_request_created",
        "pullrequest:changes_request_removed",
        "pullrequest:comment_created",
        "pullrequest:comment_updated",
        "pullrequest:comment_deleted",
        "pullrequest:comment_resolved",
        "pullrequest:comment_reopened",
        # Pipelines' OpenTelemetry spans (https://www.atlassian.com/blog/bitbucket/
        # bitbucket-pipelines-opentelemetry-traces-via-webhooks)
        "pipeline:span_created",
    }
)

# `pr:to_ref_updated` is documented (8.x+) but older servers refuse to subscribe to it.
SERVER_EVENT_KEYS: frozenset[str] = frozenset(
    {
        "repo:refs_changed",
        "repo:modified",
        "repo:forked",
        "repo:comment:added",
        "repo:comment:edited",
        "repo:comment:deleted",
        "repo:secret_detected",
        "mirror:repo_synchronized",
        "project:modified",
        "pr:opened",
        "pr:from_ref_updated",
        "pr:to_ref_updated",
        "pr:modified",
        "pr:merged",
        "pr:declined",
        "pr:deleted",
        "pr:reviewer:approved",
        "pr:reviewer:unapproved",
        "pr:reviewer:needs_work",
        "pr:reviewer:changes_requested",  # newer servers' name for needs_work
        "pr:reviewer:updated",
        "pr:comment:added",
        "pr:comment:edited",
        "pr:comment:deleted",
        "diagnostics:ping",
    }
)

ALL_EVENT_KEYS: frozenset[str] = CLOUD_EVENT_KEYS | SERVER_EVENT_KEYS

# Friendly names for job rules: each stands for the Cloud key and the Server/DC key.
ALIASES: dict[str, tuple[str, ...]] = {
    "push": ("repo:push", "repo:refs_changed"),
    "pr_opened": ("pullrequest:created", "pr:opened"),
    "pr_updated": ("pullrequest:updated", "pr:from_ref_updated"),
    "pr_merged": ("pullrequest:fulfilled", "pr:merged"),
    "pr_declined": ("pullrequest:rejected", "pr:declined"),
}

# Names people write that Bitbucket Cloud spells differently (the Studio guide uses the first).
RENAMED: dict[str, str] = {"pullrequest:merged": "pullrequest:fulfilled"}

# Server/DC keys that name one event under two names (a server sends one of them): a job rule
# naming either matches both.
SAME_EVENT: dict[str, str] = {
    "pr:reviewer:needs_work": "pr:reviewer:changes_requested",
    "pr:reviewer:changes_requested": "pr:reviewer:needs_work",
}


def expand_event_keys(names: Iterable[str]) -> frozenset[str]:
    """The event keys that `names` (keys, aliases or renamed keys) stand for.

    Raises ValueError naming the first unknown name, with a suggestion when one is close.
    """
    keys: set[str] = set()
    for name in names:
        if name in ALIASES:
            keys.update(ALIASES[name])
        elif name in RENAMED:
            keys.add(RENAMED[name])
        elif name in ALL_EVENT_KEYS:
            keys.add(name)
            if name in SAME_EVENT:
                keys.add(SAME_EVENT[name])
        else:
            raise ValueError(unknown_event_key_message(name))
    return frozenset(keys)


def unknown_event_key_message(name: str) -> str:
    """Why `name` was refused, with the closest known key or alias when there is one."""
    candidates = sorted(ALL_EVENT_KEYS | ALIASES.keys() | RENAMED.keys())
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name!r} is not a Bitbucket event key or alias{hint}"
