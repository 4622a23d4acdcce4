"""Team sync state in Redis: the per-workspace lock, the saved snapshot, status and held diff."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from shared.teams.snapshot import Member, diff
from shared.teams.store import SyncInProgress, TeamStore

LOCK = "bbrelay:teams:acme:lock"


def _redis() -> redis.Redis[bytes]:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def _members(*nicks: str) -> dict[str, Member]:
    return {n: Member(n, n, n.title(), ("developers",), "member") for n in nicks}


def test_a_second_lock_on_the_same_workspace_is_refused_and_another_workspace_is_not() -> None:
    store = TeamStore(_redis())
    with store.lock("acme"):
        with pytest.raises(SyncInProgress), store.lock("ACME"):
            pass
        with store.lock("other"):
            pass
    with store.lock("acme"):
        pass


def test_the_lock_expires_so_a_crashed_sync_does_not_block_for_ever() -> None:
    client = _redis()
    with TeamStore(client, lock_ttl=120).lock("acme"):
        assert 0 < client.pttl(LOCK) <= 120_000


def test_a_lock_that_expired_and_was_taken_again_is_not_released_by_its_old_owner() -> None:
    client = _redis()
    store = TeamStore(client)
    with store.lock("acme"):
        client.set(LOCK, b"the-next-owner")  # ours expired; another sync took it
    assert client.get(LOCK) == b"the-next-owner"


def test_the_lock_is_released_when_the_sync_raises() -> None:
    client = _redis()
    store = TeamStore(client)
    with pytest.raises(RuntimeError), store.lock("acme"):
        raise RuntimeError("read failed")
    assert client.get(LOCK) is None


def test_a_workspace_never_synced_has_no_view() -> None:
    assert TeamStore(_redis()).view("acme") is None


def test_a_first_sync_that_failed_shows_its_error_and_no_snapshot() -> None:
    store = TeamStore(_redis())
    store.record_attempt("acme", error="BitbucketUnavailable: 502")
    view = store.view("acme")
    assert view is not None
    assert view["snapshot"] is None and view["diff"] is None
    assert view["status"]["last_error"] == "BitbucketUnavailable: 502"
    assert float(view["status"]["last_attempt"]) > 0


def test_a_save_keeps_the_snapshot_the_diff_and_when_and_clears_the_error() -> None:
    store = TeamStore(_redis())
    members = _members("ana", "bo")
    store.record_attempt("acme", error="earlier failure")
    store.hold("acme", diff(members, {}), "would remove 2 of 2")
    store.save("acme", members, diff({}, members), at=1_700_000_000.0)
    assert store.snapshot("acme") == members
    view = store.view("acme")
    assert view is not None
    assert view["status"]["last_success"] == "1700000000.000"
    assert view["status"]["last_error"] == ""
    assert view["status"]["members"] == "2"
    assert view["held"] is None
    assert [m["nickname"] for m in view["diff"]["added"]] == ["ana", "bo"]
    assert view["diff"]["at"] == 1_700_000_000.0


def test_an_empty_diff_keeps_the_last_non_empty_one_on_view() -> None:
    store = TeamStore(_redis())
    members = _members("ana")
    store.save("acme", members, diff({}, members), at=1.0)
    store.save("acme", members, diff(members, members), at=2.0)
    view = store.view("acme")
    assert view is not None
    assert view["diff"]["at"] == 1.0
    assert view["status"]["last_success"] == "2.000"


def test_a_held_diff_is_shown_with_its_reason_beside_the_unchanged_snapshot() -> None:
    store = TeamStore(_redis())
    members = _members("ana", "bo", "cy")
    store.save("acme", members, diff({}, members), at=1.0)
    store.hold("acme", diff(members, {}), "would remove 3 of 3 members")
    view = store.view("acme")
    assert view is not None
    assert view["held"]["reason"] == "would remove 3 of 3 members"
    assert len(view["held"]["removed"]) == 3
    assert len(view["snapshot"]) == 3
