"""Repositories updated since a time, newest first (the reconciler's and the inventory's list)."""

from __future__ import annotations

from datetime import datetime

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import Branch, UpdatedRepository
from shared.reconcile.budget import Budget, paid


def updated_since(
    client: BitbucketClient, workspace: str, since: datetime, budget: Budget
) -> list[UpdatedRepository]:
    """The workspace's repositories updated after `since`, newest first.

    One call per page of 100; the listing stops at the first repository not updated after
    `since` (Bitbucket's filter already ends the list there; the check keeps us right if a
    server ignores `q=`). Raises BudgetSpent before a page the budget cannot pay for.
    """
    found: list[UpdatedRepository] = []
    for page in paid(client.repository_pages_updated_since(workspace, since), budget):
        for repository in page:
            if repository.updated_on is not None and repository.updated_on <= since:
                return found
            found.append(repository)
    return found


def project_repositories(client: BitbucketClient, project: str, budget: Budget) -> list[str]:
    """Every repository of a DC project (DC has no `updated since` filter), 1000 a call."""
    pages = paid(client.server_repository_pages(project), budget)
    return [
        f"{(item.get('project') or {}).get('key', project)}/{item.get('slug', '')}"
        for page in pages
        for item in page
    ]


def branches_since(
    client: BitbucketClient, repository: str, since: datetime, budget: Budget
) -> tuple[list[Branch], bool]:
    """A DC repository's branches, most recently modified first, and whether the listing ran
    to its end. It stops at the first branch whose head was committed at or before `since`:
    MODIFICATION orders by that date, so every later branch is older still. A branch without
    a committer date (older servers give only the author's) never stops the listing."""
    found: list[Branch] = []
    for page in paid(client.server_branch_pages(repository), budget):
        for branch in page:
            if branch.committed_on is not None and branch.committed_on <= since:
                return found, False
            found.append(branch)
    return found, True
