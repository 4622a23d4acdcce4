"""The reconciler's pure decisions: which heads to start, baseline, deletions, budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest

from shared.bitbucket.models import Branch
from shared.config.settings import (
    AccessLists,
    BitbucketSettings,
    RateLimit,
    ReconcileSettings,
    Settings,
)
from shared.deliveries import DeliveryStore
from shared.payloads import parse_event
from shared.reconcile.budget import Budget, BudgetSpent, calls_per_pass, paid
from shared.reconcile.feed import delivery_id_for, feed, push_body
from shared.reconcile.heads import Head, decide
from shared.reconcile.run import Reconciler
from shared.reconcile.state import ReconcileState
from shared.secret import Secret

BASELINE = datetime(2026, 1, 1, tzinfo=UTC)
AFTER = BASELINE + timedelta(minutes=5)
BEFORE = BASELINE - timedelta(days=3)
A, B, C = "a" * 40, "b" * 40, "c" * 40


def test_an_unknown_branch_moved_after_the_baseline_is_started_as_new() -> None:
    decision = decide("ws/r", [Branch("feature/x", A, AFTER)], {}, BASELINE)
    assert decision.starts == (Head("ws/r", "feature/x", A, "new"),)


def test_an_unknown_branch_older_than_the_baseline_is_not_started() -> None:
    assert decide("ws/r", [Branch("old", A, BEFORE)], {}, BASELINE).starts == ()


def test_a_head_the_relay_already_handled_is_never_started_again() -> None:
    assert decide("ws/r", [Branch("main", A, AFTER)], {"main": A}, BASELINE).starts == ()


def test_a_known_branch_with_a_newer_head_is_started_as_moved() -> None:
    decision = decide("ws/r", [Branch("main", B, AFTER)], {"main": A}, BASELINE)
    assert decision.starts == (Head("ws/r", "main", B, "moved"),)


def test_a_known_branch_reset_to_an_older_commit_is_a_force_push() -> None:
    decision = decide("ws/r", [Branch("main", C, BEFORE)], {"main": A}, BASELINE)
    assert decision.starts == (Head("ws/r", "main", C, "force_push"),)


def test_a_branch_the_relay_saw_that_bitbucket_no_longer_lists_is_deleted() -> None:
    decision = decide("ws/r", [Branch("main", A, AFTER)], {"main": A, "gone": B}, BASELINE)
    assert decision.deleted == ("gone",)
    assert decision.starts == ()


def test_a_pass_stops_at_the_page_its_budget_cannot_pay_for() -> None:
    budget = Budget(2)
    pages = paid(iter([["r1"], ["r2"], ["r3"]]), budget)
    assert next(pages) == ["r1"] and next(pages) == ["r2"]
    with pytest.raises(BudgetSpent):
        next(pages)
    assert budget.spent == 2


def test_a_pass_may_spend_its_share_of_the_hourly_budget() -> None:
    bitbucket = BitbucketSettings(
        rate_limit=RateLimit(requests_per_hour=1200),
        reconcile=ReconcileSettings(interval=600.0, budget_share=0.1),
    )
    assert calls_per_pass(bitbucket) == 20


def test_the_fed_body_parses_as_the_same_push_and_its_id_is_stable() -> None:
    head = Head("ws/r", "feature/x", A, "new")
    delivery_id = delivery_id_for(head)
    headers = {"X-Event-Key": "repo:push", "X-Request-UUID": delivery_id}
    event = parse_event(headers, push_body(head), received_at=1.0, delivery_id=delivery_id)
    assert (event.repository, event.branch, event.commit) == ("ws/r", "feature/x", A)
    assert delivery_id == delivery_id_for(Head("ws/r", "feature/x", A, "new"))


def test_a_head_fed_twice_is_queued_once_and_recorded_as_reconciled() -> None:
    store = DeliveryStore(fakeredis.FakeRedis())
    sent: list[tuple[dict[str, Any], str]] = []
    head = Head("ws/r", "main", B, "moved")
    assert feed(store, head, 1.0, lambda event, task: sent.append((event, task)))
    assert not feed(store, head, 2.0, lambda event, task: sent.append((event, task)))
    assert len(sent) == 1
    record = store.get(delivery_id_for(head))
    assert record is not None and record["source"] == "reconcile"


class NoCalls:
    """A client the first pass must not use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the first pass called {name}")


def test_the_first_pass_records_a_baseline_and_calls_nothing() -> None:
    client = fakeredis.FakeRedis()
    settings = Settings(
        bitbucket=BitbucketSettings(token=Secret("t"), repositories=AccessLists(("ws/*",)))
    )
    reconciler = Reconciler(
        settings, NoCalls(), client, DeliveryStore(client), lambda event, task: None
    )
    report = reconciler.run(now=100.0)
    assert (report.outcome, report.calls, report.started) == ("baseline", 0, [])
    assert ReconcileState(client).standing().baseline == 100.0
