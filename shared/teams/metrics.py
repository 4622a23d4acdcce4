"""Prometheus metrics of the team sync."""

from __future__ import annotations

from prometheus_client import Counter

RESULTS = ("applied", "unchanged", "held", "failed")

TEAM_SYNCS = Counter(
    "bbrelay_team_syncs_total",
    "Team syncs (dry runs aside), by result: applied (a diff saved), unchanged, held, failed.",
    ["result"],
)
for _result in RESULTS:
    TEAM_SYNCS.labels(_result)
