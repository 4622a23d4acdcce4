"""One reconcile pass: list what changed since the last pass, compare heads, feed missed pushes.

The first pass records a baseline and starts nothing. On Cloud, later passes list repositories
updated since the previous pass (one call per 100), queue them as pending, then list branches of
the pending ones oldest first. DC has no such filter: a pass lists every repository of the named
projects (one call per 1000), queues them by when their branches were last looked at, and lists
each one's branches most recently modified first, stopping at the first branch older than that
look. A pass that would spend more than its budget stops; what is pending stays for the next
pass.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import redis

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.models import Branch
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.reconcile import metrics
from shared.reconcile.budget import Budget, BudgetSpent, calls_per_pass, paid
from shared.reconcile.feed import Send, feed
from shared.reconcile.heads import Head, decide
from shared.reconcile.listed import listed_before, remember_listing
from shared.reconcile.listing import branches_since, project_repositories
from shared.reconcile.scope import may_reconcile, workspaces_to_reconcile
from shared.reconcile.seen import forget_branches, seen_heads
from shared.reconcile.shared_listing import listed_since
from shared.reconcile.state import ReconcileState

# Listing starts this long before the previous pass began: Bitbucket's `updated_on` may be
# written a little after the push; a repository listed twice costs nothing more.
OVERLAP = 60.0


@dataclass
class PassReport:
    at: float
    outcome: str  # baseline | complete | budget | nothing
    workspaces: list[str] = field(default_factory=list)
    updated: int = 0  # repositories found updated (DC: listed, it has no such filter)
    examined: int = 0  # repositories whose branches were compared
    pending: int = 0  # repositories left for the next pass
    started: list[str] = field(default_factory=list)  # "repo branch commit kind"
    deleted: list[str] = field(default_factory=list)
    calls: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Reconciler:
    settings: Settings
    client: BitbucketClient
    redis: redis.Redis[bytes]
    deliveries: DeliveryStore
    send: Send

    def run(self, *, dry_run: bool = False, now: float | None = None) -> PassReport:
        now = time.time() if now is None else now
        report = PassReport(at=now, outcome="complete", dry_run=dry_run)
        report.workspaces = list(workspaces_to_reconcile(self.settings))
        state = ReconcileState(self.redis)
        standing = state.standing()
        if not report.workspaces:
            report.outcome = "nothing"
        elif standing.baseline is None or standing.since is None:
            report.outcome = "baseline"
            if not dry_run:
                state.start(now)
        else:
            budget = Budget(calls_per_pass(self.settings.bitbucket))
            try:
                if self._cloud:
                    found, listed_at = self._list(standing.since, budget, report, now=now)
                else:
                    found = self._list_projects(state, standing.baseline, budget, report)
                    listed_at = now
                if not dry_run:
                    state.add_pending(found, keep_older=not self._cloud)
                    state.listed_up_to(listed_at)
                pending = state.pending()
                pending += sorted((n for n in found if n not in pending), key=found.__getitem__)
                self._examine(
                    state, pending, standing.baseline, budget, report, dry_run=dry_run, now=now
                )
            except BudgetSpent:
                report.outcome = "budget"
            report.calls = budget.spent
            report.pending = len(state.pending())
        if not dry_run:
            state.save_report(report.as_dict())
            metrics.PASSES.labels(report.outcome).inc()
            metrics.CALLS.inc(report.calls)
        return report

    @property
    def _cloud(self) -> bool:
        return self.settings.bitbucket.product == "cloud"

    def _list(
        self, since: float, budget: Budget, report: PassReport, *, now: float
    ) -> tuple[dict[str, float], float]:
        """Allowed repositories updated since `since` (less OVERLAP), with their update times,
        and the time they are known up to (the inventory's shared listing's, or now)."""
        moment = datetime.fromtimestamp(since - OVERLAP, UTC)
        found: dict[str, float] = {}
        known_at = now
        for workspace in report.workspaces:
            listed, at = listed_since(
                self.client, self.redis, workspace, moment, budget, made_after=since, now=now
            )
            known_at = min(known_at, at)
            for repository in listed:
                if may_reconcile(self.settings, repository.full_name):
                    stamp = repository.updated_on.timestamp() if repository.updated_on else now
                    found[repository.full_name] = stamp
        report.updated = len(found)
        return found, known_at

    def _list_projects(
        self, state: ReconcileState, baseline: float, budget: Budget, report: PassReport
    ) -> dict[str, float]:
        """DC: allowed repositories of the named projects, each with when its branches were
        last listed (the baseline when never): the least recently looked at come first."""
        names: list[str] = []
        for project in report.workspaces:
            listed = project_repositories(self.client, project, budget)
            names += [name for name in listed if may_reconcile(self.settings, name)]
        looked = state.examined_at(names)
        report.updated = len(names)
        return {name: looked.get(name, baseline) for name in names}

    def _branches(
        self, state: ReconcileState, repository: str, baseline: float, budget: Budget
    ) -> tuple[list[Branch], bool]:
        """The repository's branches and whether the listing is complete: Cloud lists them
        all; DC stops at the first branch older than the last look at this repository."""
        if self._cloud:
            pages = paid(self.client.branch_pages(repository), budget)
            return [branch for page in pages for branch in page], True
        since = state.waiting_since(repository) or baseline
        moment = datetime.fromtimestamp(max(baseline, since) - OVERLAP, UTC)
        return branches_since(self.client, repository, moment, budget)

    def _examine(
        self,
        state: ReconcileState,
        pending: list[str],
        baseline: float,
        budget: Budget,
        report: PassReport,
        *,
        dry_run: bool,
        now: float,
    ) -> None:
        """Compare each pending repository's branch heads, oldest first."""
        since_baseline = datetime.fromtimestamp(baseline, UTC)
        for repository in pending:
            branches, complete = self._branches(state, repository, baseline, budget)
            decision = decide(
                repository,
                branches,
                seen_heads(self.redis, repository),
                since_baseline,
                listed_before(self.redis, repository),
                complete=complete,
            )
            report.examined += 1
            report.deleted += [f"{repository} {name}" for name in decision.deleted]
            for head in decision.starts:
                report.started.append(_line(head))
                product = self.settings.bitbucket.product
                if not dry_run and feed(self.deliveries, head, time.time(), self.send, product):
                    metrics.STARTED.labels(head.kind).inc()
            if not dry_run:
                forget_branches(self.redis, repository, decision.deleted)
                metrics.DELETED.inc(len(decision.deleted))
                remember_listing(
                    self.redis, repository, (b.name for b in branches), complete=complete
                )
                if not self._cloud:
                    state.examined(repository, now)
                state.done(repository)


def _line(head: Head) -> str:
    return f"{head.repository} {head.branch} {head.commit[:12]} ({head.kind.replace('_', '-')})"
