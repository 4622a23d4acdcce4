"""The reconciler on Server/DC and new branches: DC branch listings, stopping, the fed body."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shared.bitbucket.models import SERVER_LATEST_COMMIT, Branch
from shared.payloads import parse_event
from shared.reconcile.budget import Budget
from shared.reconcile.feed import delivery_id_for, event_for
from shared.reconcile.heads import Head, decide
from shared.reconcile.listing import branches_since

BASELINE = datetime(2026, 1, 1, tzinfo=UTC)
AFTER = BASELINE + timedelta(minutes=5)
BEFORE = BASELINE - timedelta(days=3)
A, B = "a" * 40, "b" * 40


def dc_branch(name: str, sha: str, at: datetime, *, committer: bool = True) -> dict[str, object]:
    stamp = int(at.timestamp() * 1000)
    latest: dict[str, object] = {"id": sha, "authorTimestamp": stamp - 60_000}
    if committer:
        latest["committerTimestamp"] = stamp
    return {
        "id": f"refs/heads/{name}",
        "displayId": name,
        "type": "BRANCH",
        "latestCommit": sha,
        "metadata": {SERVER_LATEST_COMMIT: latest},
    }


def test_a_dc_branch_reads_its_head_and_committer_date_from_the_details() -> None:
    branch = Branch.from_server(dc_branch("feature/x", A, AFTER))
    assert (branch.name, branch.commit, branch.date, branch.committed_on) == (
        "feature/x",
        A,
        AFTER,
        AFTER,
    )


def test_a_dc_branch_with_only_an_author_date_has_no_committer_date() -> None:
    branch = Branch.from_server(dc_branch("main", A, AFTER, committer=False))
    assert branch.committed_on is None
    assert branch.date == AFTER - timedelta(minutes=1)


class Pages:
    """A client whose DC branch listing is the given pages; counts the pages read."""

    def __init__(self, *pages: list[Branch]) -> None:
        self.pages = pages

    def server_branch_pages(self, repository: str) -> Iterator[list[Branch]]:
        yield from self.pages


def test_a_dc_listing_stops_at_the_first_branch_committed_before_the_last_look() -> None:
    newer = Branch("feature/new", A, AFTER, AFTER)
    older = Branch("main", B, BEFORE, BEFORE)
    budget = Budget(10)
    client = Pages([newer, older], [Branch("never-read", A, BEFORE, BEFORE)])
    found, complete = branches_since(client, "PRJ/r", BASELINE, budget)  # type: ignore[arg-type]
    assert (found, complete, budget.spent) == ([newer], False, 1)


def test_a_dc_branch_without_a_committer_date_never_stops_the_listing() -> None:
    undated = Branch("main", B, BEFORE, None)
    client = Pages([undated], [Branch("feature/x", A, AFTER, AFTER)])
    found, complete = branches_since(client, "PRJ/r", BASELINE, Budget(10))  # type: ignore[arg-type]
    assert ([b.name for b in found], complete) == (["main", "feature/x"], True)


def test_a_branch_missing_from_the_previous_listing_is_new_whatever_its_commit_date() -> None:
    decision = decide("ws/r", [Branch("hotfix", A, BEFORE)], {}, BASELINE, {"main"})
    assert decision.starts == (Head("ws/r", "hotfix", A, "new"),)


def test_an_old_branch_of_a_repository_never_listed_before_is_not_started() -> None:
    assert decide("ws/r", [Branch("old", A, BEFORE)], {}, BASELINE, None).starts == ()


def test_a_listing_that_stopped_early_deletes_nothing() -> None:
    decision = decide("PRJ/r", [], {"main": A}, BASELINE, {"main"}, complete=False)
    assert decision.deleted == ()


def test_a_dc_head_is_fed_as_a_refs_changed_push_the_intake_reads() -> None:
    head = Head("PRJ/my-repo", "main", B, "moved", previous=A)
    event, body = event_for(head, 1.0, "server")
    assert (event.product, event.event_key) == ("server", "repo:refs_changed")
    assert (event.repository, event.branch, event.commit, event.ref) == (
        "PRJ/my-repo",
        "main",
        B,
        "refs/heads/main",
    )
    again = parse_event(
        {"X-Event-Key": "repo:refs_changed", "X-Request-Id": "x"},
        body,
        received_at=2.0,
        delivery_id="x",
    )
    assert again.commit == B and event.delivery_id == delivery_id_for(head)
    assert b'"type": "UPDATE"' in body and f'"fromHash": "{A}"'.encode() in body


def test_a_new_dc_branch_is_fed_as_an_add_from_the_zero_hash() -> None:
    _, body = event_for(Head("PRJ/my-repo", "feature/x", A, "new"), 1.0, "server")
    assert b'"type": "ADD"' in body and b'"fromHash": "' + b"0" * 40 + b'"' in body
