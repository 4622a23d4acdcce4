"""The OAuth scopes a Cloud consumer needs for the configured events and features (pure).

Creating a hook needs `webhook` plus the scope of each subscribed event; `GET /2.0/user` needs
`account`; starting a Pipelines run (`POST /repositories/{workspace}/{repo_slug}/pipelines`)
needs `pipeline:write` ("Access and rerun your repositories' build pipelines"), which a plain
`pipeline` grant does not cover.
https://developer.atlassian.com/cloud/bitbucket/rest/intro/#scopes and
https://developer.atlassian.com/cloud/bitbucket/rest/api-group-webhooks/#api-repositories-workspace-repo-slug-hooks-post
"""

from __future__ import annotations

from collections.abc import Iterable

from bbrelay.hooks import wanted_events
from shared.config.settings import Settings

# The scope that covers an event key's family (the part before the colon).
EVENT_SCOPES = {
    "repo": "repository",
    "pullrequest": "pullrequest",
    "pipeline": "pipeline",
    "issue": "issue",
    "project": "project",
}


def event_scopes(keys: Iterable[str]) -> dict[str, str]:
    """Scope -> the first subscribed event key that needs it."""
    needed: dict[str, str] = {}
    for key in sorted(keys):
        scope = EVENT_SCOPES.get(key.split(":", 1)[0])
        if scope:
            needed.setdefault(scope, f"the {key} hook event")
    return needed


def needed_scopes(settings: Settings) -> dict[str, str]:
    """Scope -> why it is needed, from the configured events and features."""
    bitbucket = settings.bitbucket
    needed = {"account": "GET /2.0/user (bbrelay check)", "webhook": "creating and reading hooks"}
    for scope, why in event_scopes(wanted_events(settings)).items():
        needed.setdefault(scope, why)
    if bitbucket.jobs and bitbucket.build_status.enabled:
        needed.setdefault("repository", "build statuses")
    if any(rule.runner == "pipeline" for rule in bitbucket.jobs):
        needed["pipeline:write"] = "starting Pipelines runs (POST …/pipelines)"
    elif bitbucket.pipelines.enabled:
        needed.setdefault("pipeline", "Pipelines runs")
    if settings.team_sync.enabled:
        needed.setdefault("account", "team sync")
    return needed


def missing_scopes(needed: dict[str, str], granted: Iterable[str]) -> dict[str, str]:
    """The needed scopes not granted; a `:write` or `:admin` grant covers the plain scope."""
    have = set(granted)
    have |= {scope.split(":", 1)[0] for scope in have}
    return {scope: why for scope, why in needed.items() if scope not in have}
