"""Follow-ups by due time: leased when taken, acknowledged by the run that was sent."""

from __future__ import annotations

import redis

from shared.followups import FollowUp, FollowUps, member_for


def _poll(task_id: str) -> FollowUp:
    member = member_for("bbrelay.follow_pipeline", "job-1")
    return FollowUp(member, "bbrelay.follow_pipeline", ["job-1", 15.0], task_id=task_id)


def test_a_follow_up_is_taken_only_when_due_and_then_leased(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = FollowUps(fake_redis)
    store.schedule(_poll("t-1"), due=100.0)
    assert store.claim_due(lease=60.0, now=99.0) == []
    [taken] = store.claim_due(lease=60.0, now=100.0)
    assert (taken.name, taken.args, taken.task_id) == (
        "bbrelay.follow_pipeline",
        ["job-1", 15.0],
        "t-1",
    )
    assert store.claim_due(lease=60.0, now=159.0) == []
    assert store.due_at(taken.member) == 160.0


def test_a_follow_up_whose_run_never_acknowledged_is_due_again_after_its_lease(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = FollowUps(fake_redis)
    store.schedule(_poll("t-1"), due=100.0)
    store.claim_due(lease=60.0, now=100.0)
    [again] = store.claim_due(lease=60.0, now=160.0)
    assert again.task_id == "t-1"


def test_scheduling_the_same_job_again_replaces_the_pending_follow_up(
    fake_redis: redis.Redis[bytes],
) -> None:
    store = FollowUps(fake_redis)
    store.schedule(_poll("t-1"), due=100.0)
    store.schedule(_poll("t-2"), due=200.0)
    assert store.pending() == 1
    [taken] = store.claim_due(lease=60.0, now=200.0)
    assert taken.task_id == "t-2"


def test_only_the_latest_run_acknowledges_a_follow_up(fake_redis: redis.Redis[bytes]) -> None:
    store = FollowUps(fake_redis)
    store.schedule(_poll("t-1"), due=100.0)
    store.claim_due(lease=60.0, now=100.0)
    store.schedule(_poll("t-2"), due=115.0)  # t-1's run scheduled the next poll
    assert store.ack("t-1", [_poll("t-1").member]) == 0
    assert store.pending() == 1
    assert store.ack("t-2", [_poll("t-2").member]) == 1
    assert store.pending() == 0
