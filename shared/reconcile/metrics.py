"""Prometheus counters of the reconciler (`bbrelay_reconcile_*`)."""

from __future__ import annotations

from prometheus_client import Counter

PASSES = Counter("bbrelay_reconcile_passes_total", "Reconcile passes, by outcome", ["outcome"])
STARTED = Counter(
    "bbrelay_reconcile_started_total", "Missed pushes fed as repo:push events, by kind", ["kind"]
)
CALLS = Counter("bbrelay_reconcile_api_calls_total", "Bitbucket calls spent by reconcile passes")
DELETED = Counter(
    "bbrelay_reconcile_deleted_branches_total", "Branches found deleted while events were lost"
)
