"""How many Bitbucket calls one reconcile pass may spend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from shared.config.settings import BitbucketSettings


class BudgetSpent(Exception):
    """The pass has spent its share; it stops where it is and goes on next time."""


@dataclass
class Budget:
    """Calls a pass may make, and how many it made."""

    limit: int
    spent: int = 0


T = TypeVar("T")


def paid(pages: Iterator[T], budget: Budget) -> Iterator[T]:
    """Each page of `pages` (one call each) paid from `budget`; BudgetSpent instead of a call
    it cannot pay for. With the budget exactly spent, a listing that had no page left still
    stops here: its repository is looked at again next pass, which starts nothing twice."""
    while True:
        if budget.spent >= budget.limit:
            raise BudgetSpent(f"spent {budget.spent} of {budget.limit} calls")
        page = next(pages, None)
        if page is None:
            return
        budget.spent += 1
        yield page


def calls_per_pass(bitbucket: BitbucketSettings) -> int:
    """`budgetShare` of the consumer's hourly budget, spread over the passes of an hour."""
    reconcile = bitbucket.reconcile
    share = reconcile.budget_share * bitbucket.rate_limit.requests_per_hour
    return max(1, int(share * reconcile.interval / 3600.0))
