"""Team sync's pure parts: roles from groups, diffs between snapshots, which workspaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings
from shared.config.settings import AccessLists, BitbucketSettings, Settings, TeamSyncSettings
from shared.teams.mapping import role_for
from shared.teams.snapshot import Member, diff
from shared.teams.sync import workspaces_to_sync
from tests.conftest import KEYED

ORDER = ("admin", "member", "viewer")
MAPPING = {"Administrators": "admin", "developers": "member", "owner": "admin", "readers": "viewer"}


def test_the_highest_role_of_mixed_groups_wins() -> None:
    assert role_for(["readers", "developers"], MAPPING, "viewer", ORDER) == "member"
    assert role_for(["developers", "administrators"], MAPPING, "viewer", ORDER) == "admin"
    assert role_for(["owner"], MAPPING, "viewer", ORDER) == "admin"


def test_unknown_groups_and_an_empty_mapping_give_the_default_role() -> None:
    assert role_for(["strangers"], MAPPING, "viewer", ORDER) == "viewer"
    assert role_for([], MAPPING, "member", ORDER) == "member"
    assert role_for(["developers"], {}, "viewer", ORDER) == "viewer"


def test_the_role_order_is_configurable() -> None:
    reversed_order = ("viewer", "member", "admin")
    assert role_for(["readers", "administrators"], MAPPING, "member", reversed_order) == "viewer"


def _member(
    user_id: str, role: str = "member", groups: tuple[str, ...] = ("developers",)
) -> Member:
    return Member(user_id, f"nick-{user_id}", f"Name {user_id}", groups, role)


def test_the_diff_names_added_removed_and_changed_members() -> None:
    before = {m.user_id: m for m in (_member("a"), _member("b"), _member("c"), _member("d"))}
    after = {
        "a": _member("a"),
        "b": _member("b", role="admin", groups=("administrators",)),
        "c": _member("c", groups=("developers", "readers")),
        "e": _member("e"),
    }
    changes = diff(before, after)
    assert [m.user_id for m in changes.added] == ["e"]
    assert [m.user_id for m in changes.removed] == ["d"]
    assert changes.changed == (
        {
            "user_id": "b",
            "nickname": "nick-b",
            "role": ["member", "admin"],
            "groups": [["developers"], ["administrators"]],
        },
        {
            "user_id": "c",
            "nickname": "nick-c",
            "groups": [["developers"], ["developers", "readers"]],
        },
    )
    assert changes.summary() == "1 added, 1 removed, 1 role changes, 1 group-only changes"
    assert diff(after, after).empty


def test_only_whitelisted_and_allowed_workspaces_sync_and_none_when_disabled() -> None:
    settings = Settings(
        bitbucket=BitbucketSettings(workspaces=AccessLists(allow=("acme*",), block=("acme-old",))),
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme", "acme-old", "other")),
    )
    assert workspaces_to_sync(settings) == ["acme"]
    off = dataclasses.replace(settings, team_sync=TeamSyncSettings(enabled=False))
    assert workspaces_to_sync(off) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("15m", 900), ("30s", 30), ("1d", 86400)]
)
def test_sync_intervals_parse(tmp_path: Path, text: str, seconds: float) -> None:
    environ: dict[str, str] = dict(KEYED)
    values = f"global:\n  teams:\n    bitbucket:\n      syncInterval: {text}\n"
    path = _write(tmp_path, values)
    assert load_settings(path, environ=environ).teams.sync_interval == seconds


def test_a_bad_sync_interval_is_refused_at_load(tmp_path: Path) -> None:
    path = _write(tmp_path, "global:\n  teams:\n    bitbucket:\n      syncInterval: often\n")
    with pytest.raises(ConfigError, match="syncInterval"):
        load_settings(path, environ=dict(KEYED))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    return str(path)
