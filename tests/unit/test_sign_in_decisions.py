"""Pure sign-in decisions: which workspaces and role, and which `next` the platform gets back."""

from __future__ import annotations

import pytest

from receiver.sign_in import platform_next
from shared.config.settings import TeamsSettings
from shared.teams.membership import ANY_WORKSPACE, Membership, membership
from shared.teams.snapshot import Member

TEAMS = TeamsSettings(mapping={"owner": "admin", "devs": "member"})
ALICE = Member("{alice}", "alice", "Alice", ("devs",), "member")


def _never() -> dict[str, list[str]]:
    raise AssertionError("no live call when every workspace has a snapshot")


def test_a_snapshot_answers_without_a_live_call() -> None:
    found = membership("{alice}", ["acme"], TEAMS, lambda ws: {"{alice}": ALICE}, _never)
    assert found == Membership(("acme",), "member")


def test_a_person_absent_from_every_snapshot_is_in_no_workspace() -> None:
    assert membership("{bob}", ["acme"], TEAMS, lambda ws: {"{alice}": ALICE}, _never) is None


def test_workspaces_without_a_snapshot_share_one_live_call_and_the_highest_role_wins() -> None:
    calls = []

    def live() -> dict[str, list[str]]:
        calls.append(1)
        return {"beta": ["owner"], "gamma": ["collaborator"]}

    snapshots = {"acme": {"{alice}": ALICE}}
    found = membership("{alice}", ["acme", "beta", "gamma", "delta"], TEAMS, snapshots.get, live)
    assert found == Membership(("acme", "beta", "gamma"), "admin")
    assert calls == [1]


def test_server_groups_hold_for_every_whitelisted_name() -> None:
    found = membership("7", ["dc"], TEAMS, lambda ws: None, lambda: {ANY_WORKSPACE: []})
    assert found == Membership(("dc",), "viewer")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://platform.example.com/projects/7", "https://platform.example.com/projects/7"),
        ("/projects/7", "/projects/7"),
        ("https://evil.example/", None),
        ("//evil.example/x", None),
        ("http://platform.example.com/x", None),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_next_is_kept_only_on_the_platforms_origin(given: str | None, kept: str | None) -> None:
    assert platform_next(given, "https://platform.example.com/auth/done") == kept
