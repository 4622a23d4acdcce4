"""The Server/DC side of an inventory pass: a project's repositories and their pull requests.

A DC "workspace" is a project (its key, as webhooks name it). DC repositories carry no update
time, so each repository's pull requests are listed in every state, most recently updated
first, page by page until the first one updated before the window: one call for a quiet
repository. Users and groups come from the team-sync reader, as on Cloud.
https://developer.atlassian.com/server/bitbucket/rest/v819/api-group-pull-requests/
"""

from __future__ import annotations

from datetime import datetime

from shared.bitbucket.client import BitbucketClient
from shared.inventory import entities
from shared.inventory.entities import Document
from shared.reconcile.budget import Budget, BudgetSpent, paid


def repositories(
    client: BitbucketClient,
    project: str,
    budget: Budget,
    seen: list[Document],
    listed: dict[str, set[str]],
) -> dict[str, str]:
    """Every repository of the project and the project itself (a complete listing); full
    name -> repository id."""
    found: dict[str, str] = {}
    projects: set[str] = set()
    for page in paid(client.server_repository_pages(project), budget):
        for item in page:
            document = entities.repository("server", item)
            seen.append(document)
            found[document["full_name"]] = document["id"]
            owner = item.get("project")
            if owner and "id" in owner:
                seen.append(entities.project("server", owner, project))
                projects.add(str(owner["id"]))
    listed["repository"], listed["project"] = set(found.values()), projects
    return found


def pull_requests(
    client: BitbucketClient,
    names: list[str],
    ids: dict[str, str],
    window: datetime,
    budget: Budget,
    seen: list[Document],
) -> list[str]:
    """The pull requests of each repository updated after `window`; on BudgetSpent, the
    repositories not done are in the exception's `pending`."""
    stamp = window.timestamp() * 1000.0
    for position, name in enumerate(names):
        try:
            for page in paid(client.server_pull_request_pages(name), budget):
                recent = [item for item in page if float(item.get("updatedDate") or 0) > stamp]
                seen.extend(entities.pull_request("server", item, ids[name]) for item in recent)
                if len(recent) < len(page):
                    break
        except BudgetSpent:
            return names[position:]
    return []
