"""One inventory pass of a Cloud workspace (or a DC project, see server_pass) within its budget.

Calls: the repositories (100 a page; the complete listing is kept for the reconciler, whose
next pass takes what it needs from it instead of listing again), the members and groups (the
team-sync reader), and the pull requests updated in the window of each repository that was
pushed to in the window, in every state with their people in the page (per repository, not
per author: a repository's `updated_on` moves with each push to a pull request's branch, and
approvals and comments, which do not move it, arrive by webhook). A pass that runs out of
budget keeps the repositories it did not reach for the next pass and deletes nothing; so does
a pass that fails.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import UpdatedRepository
from shared.config.settings import Settings
from shared.inventory import entities, server_pass
from shared.inventory.changes import Change, deletions, upserts
from shared.inventory.entities import Document
from shared.inventory.store import InventoryStore
from shared.reconcile.budget import Budget, BudgetSpent, paid
from shared.reconcile.listing import updated_since
from shared.reconcile.scope import workspaces_to_reconcile
from shared.reconcile.shared_listing import save_complete
from shared.teams.reader import read_cloud, read_server

EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass
class PassReport:
    workspace: str
    at: float
    outcome: str = "complete"  # complete | budget | failed
    calls: int = 0
    upserts: int = 0
    deletes: int = 0
    pending: list[str] = field(default_factory=list)  # repositories left for the next pass
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def workspaces(settings: Settings) -> tuple[str, ...]:
    """`inventory.workspaces`, else team sync's whitelist, else the allow lists' names."""
    given = settings.bitbucket.inventory.workspaces
    if given:
        return tuple(name.lower() for name in given)
    whitelist = settings.team_sync.workspace_whitelist
    return tuple(n.lower() for n in whitelist) or workspaces_to_reconcile(settings)


def calls_per_pass(settings: Settings) -> int:
    """`budgetShare` of the consumer's hourly budget."""
    share = settings.bitbucket.inventory.budget_share
    return max(1, int(share * settings.bitbucket.rate_limit.requests_per_hour))


class _Counting:
    """The client's sender, counting the calls it makes (token fetches are not calls)."""

    def __init__(self, client: BitbucketClient) -> None:
        self.inner = client.sender
        self.calls = 0

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.send(*args, **kwargs)


def run_pass(
    client: BitbucketClient,
    store: InventoryStore,
    settings: Settings,
    workspace: str,
    *,
    dry_run: bool = False,
    now: float | None = None,
) -> tuple[PassReport, list[Change]]:
    """List, diff and (unless dry) apply one workspace's inventory; the changes made."""
    now = time.time() if now is None else now
    report = PassReport(workspace, now)
    budget = Budget(calls_per_pass(settings))
    previous = list((store.last_pass(workspace) or {}).get("pending", ()))
    window = datetime.fromtimestamp(now - settings.bitbucket.inventory.pull_requests_since, UTC)
    seen: list[Document] = []
    listed: dict[str, set[str]] = {}
    try:
        if client.product == "cloud":
            listing = updated_since(client, workspace, EPOCH, budget)
            if not dry_run:
                save_complete(store.redis, workspace, now, listing)
            repositories = _repositories(listing, workspace, seen, listed)
            _directory(client, workspace, budget, seen, listed)
            names = [n for n in previous if n in repositories]
            names += [n for n, at in repositories.items() if at > window and n not in names]
            _pull_requests(client, names, repositories, window, budget, seen, report)
        else:
            ids = server_pass.repositories(client, workspace, budget, seen, listed)
            _directory(client, workspace, budget, seen, listed)
            names = [n for n in previous if n in ids]
            names += [n for n in ids if n not in names]
            report.pending = server_pass.pull_requests(client, names, ids, window, budget, seen)
            if report.pending:
                raise BudgetSpent(f"{len(report.pending)} repositories left for the next pass")
    except BudgetSpent:
        report.outcome = "budget"
        listed = {}
    except Exception as exc:
        report.outcome, report.error, listed = "failed", f"{type(exc).__name__}: {exc}"[:500], {}
    report.calls = budget.spent
    stored = store.stored(workspace)
    changes = upserts(stored, seen) + deletions(stored, listed)
    if not dry_run:
        to_sink = settings.bitbucket.inventory.sink is not None
        changes = store.apply(workspace, changes, to_sink=to_sink, seen_at=now)
    report.upserts = sum(1 for c in changes if c.op == "upsert")
    report.deletes = len(changes) - report.upserts
    if not dry_run:
        store.save_pass(workspace, report.as_dict())
    return report, changes


def _repositories(
    listing: list[UpdatedRepository],
    workspace: str,
    seen: list[Document],
    listed: dict[str, set[str]],
) -> dict[str, datetime]:
    """Every repository and its project (a complete listing); full name -> updated_on."""
    found: dict[str, datetime] = {}
    ids: set[str] = set()
    projects: set[str] = set()
    for repository in listing:
        document = entities.repository("cloud", repository.fields)
        seen.append(document)
        ids.add(document["id"])
        found[repository.full_name] = repository.updated_on or EPOCH
        project = repository.fields.get("project")
        if project:
            seen.append(entities.project("cloud", project, workspace))
            projects.add(str(project.get("uuid")))
    listed["repository"], listed["project"] = ids, projects
    return found


def _directory(
    client: BitbucketClient,
    workspace: str,
    budget: Budget,
    seen: list[Document],
    listed: dict[str, set[str]],
) -> None:
    """Members and groups through the team-sync reader, its calls paid from the budget."""
    counting = _Counting(client)
    reader = BitbucketClient(client.product, client.api_url, counting, base_url=client.base_url)
    directory = read_cloud(reader, workspace) if client.product == "cloud" else read_server(reader)
    budget.spent += counting.calls
    users = {
        key: {"type": "user", "id": key, "name": u.name, "display_name": u.display_name}
        for key, u in directory.users.items()
    }
    members: dict[str, list[str]] = {}
    for user_id, slugs in directory.groups.items():
        for slug in slugs:
            members.setdefault(slug, []).append(user_id)
    groups = [
        entities.group(slug, directory.group_names.get(slug, slug), ids)
        for slug, ids in members.items()
        if slug not in ("owner", "member", "collaborator")
    ]
    seen.extend(users.values())
    seen.extend(groups)
    if not directory.warnings:
        listed["user"] = set(users)
        listed["group"] = {g["id"] for g in groups}


def _pull_requests(
    client: BitbucketClient,
    names: list[str],
    repositories: dict[str, datetime],
    window: datetime,
    budget: Budget,
    seen: list[Document],
    report: PassReport,
) -> None:
    ids = {d["full_name"]: d["id"] for d in seen if d["type"] == "repository"}
    for position, name in enumerate(names):
        try:
            for page in paid(client.pull_request_pages(name, window), budget):
                seen.extend(entities.pull_request("cloud", item, ids[name]) for item in page)
        except BudgetSpent:
            report.pending = names[position:]
            raise
