"""Repositories updated since a time, newest first (the reconciler's and the inventory's list)."""

from __future__ import annotations

from datetime import datetime

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import UpdatedRepository
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
