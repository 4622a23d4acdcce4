"""How many Bitbucket calls one reconcile pass may spend."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.settings import BitbucketSettings


class BudgetSpent(Exception):
    """The pass has spent its share; it stops where it is and goes on next time."""


@dataclass
class Budget:
    """Calls a pass may make; `take` before each call."""

    limit: int
    spent: int = 0

    def take(self) -> None:
        if self.spent >= self.limit:
            raise BudgetSpent(f"spent {self.spent} of {self.limit} calls")
        self.spent += 1


def calls_per_pass(bitbucket: BitbucketSettings) -> int:
    """`budgetShare` of the consumer's hourly budget, spread over the passes of an hour."""
    reconcile = bitbucket.reconcile
    share = reconcile.budget_share * bitbucket.rate_limit.requests_per_hour
    return max(1, int(share * reconcile.interval / 3600.0))
