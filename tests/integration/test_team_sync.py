"""Team sync against the fake Bitbucket over HTTP and a real Redis, Cloud and Server/DC."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pytest
import redis

from bbrelay.team_sync import sync_teams_now
from shared.bitbucket.errors import BitbucketUnavailable
from shared.bitbucket.factory import build_client
from shared.config.settings import (
    BitbucketSettings,
    Consumer,
    RateLimit,
    RelaySettings,
    Settings,
    TeamsSettings,
    TeamSyncSettings,
)
from shared.secret import Secret
from shared.teams.store import TeamStore
from shared.teams.sync import SyncReport, run_sync
from tests.conftest import ENCRYPTION_KEY, SEALER
from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket

pytestmark = pytest.mark.integration

MEMBERS = 1050
GROUPS = 12
MAPPING = {"group-00": "admin", "group-01": "member", "owner": "admin"}


@pytest.fixture(params=["cloud", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeBitbucket]:
    with FakeBitbucket(request.param, budget_per_hour=10_000, tokens={"dc-token"}) as bitbucket:
        team_data.seed(bitbucket, "acme", MEMBERS, GROUPS)
        yield bitbucket


def _settings(fake: FakeBitbucket) -> Settings:
    if fake.product == "cloud":
        bitbucket = BitbucketSettings(
            api_url=fake.api_url,
            token_url=fake.token_url,
            consumers=(Consumer("client-1", Secret("secret-1")),),
        )
    else:
        bitbucket = BitbucketSettings(
            product="server", url=fake.base_url, api_url=fake.api_url, token=Secret("dc-token")
        )
    return Settings(
        bitbucket=BitbucketSettings(**{**vars(bitbucket), "rate_limit": RateLimit(10_000, 500)}),
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
        teams=TeamsSettings(mapping=MAPPING, default_role="viewer"),
    )


def _sync(fake: FakeBitbucket, redis_url: str, **options: bool) -> tuple[TeamStore, SyncReport]:
    client_redis = redis.Redis.from_url(redis_url)
    settings = _settings(fake)
    store = TeamStore(client_redis)
    client = build_client(settings.bitbucket, client_redis, SEALER)
    return store, run_sync(client, store, settings, "acme", **options)


def _pages_needed(fake: FakeBitbucket) -> int:
    if fake.product == "cloud":
        return math.ceil(MEMBERS / 100) + 1  # permissions pages + the unpaged 1.0 groups list
    return math.ceil(MEMBERS / 1000) + 1 + GROUPS  # users pages, groups page, members per group


def test_the_snapshot_maps_every_member_with_the_fewest_calls(
    fake: FakeBitbucket, redis_url: str
) -> None:
    store, report = _sync(fake, redis_url)
    snapshot = store.snapshot("acme")
    assert snapshot is not None and len(snapshot) == MEMBERS
    by_nick = {m.nickname: m for m in snapshot.values()}
    assert by_nick["user00012"].role == "admin"  # group-00
    assert by_nick["user00013"].role == "member"  # group-01
    assert by_nick["user00014"].role == "viewer"  # group-02, unmapped
    assert "group-02" in by_nick["user00014"].groups
    api_calls = [r for r in fake.requests_to("*") if "/access_token" not in r.path]
    assert len(api_calls) == _pages_needed(fake)
    assert fake.responses_with(429) == 0
    assert len(report.diff.added) == MEMBERS


def test_added_removed_and_moved_members_show_in_the_next_diff(
    fake: FakeBitbucket, redis_url: str
) -> None:
    _sync(fake, redis_url)
    team_data.add_member(fake, "acme", 5000, group=1)
    team_data.remove_member(fake, "acme", 14)
    team_data.move_member(fake, "acme", 25, to_group=0)  # group-01 (member) -> group-00 (admin)
    store, report = _sync(fake, redis_url)
    changes = report.diff
    assert [m.nickname for m in changes.added] == ["user05000"]
    assert [m.nickname for m in changes.removed] == ["user00014"]
    [moved] = changes.changed
    assert (moved["nickname"], moved["role"]) == ("user00025", ["member", "admin"])
    view = store.view("acme")
    assert view is not None and len(view["diff"]["added"]) == 1


def test_a_failed_page_changes_nothing_and_removes_nobody(
    fake: FakeBitbucket, redis_url: str
) -> None:
    store, _ = _sync(fake, redis_url)
    before = store.snapshot("acme")
    team_data.remove_member(fake, "acme", 3)
    if fake.product == "cloud":
        fake.fail_page("/2.0/workspaces/acme/permissions", 7)
    else:
        fake.fail_page("/rest/api/latest/users", 1)
    with pytest.raises(BitbucketUnavailable):
        _sync(fake, redis_url)
    assert store.snapshot("acme") == before
    view = store.view("acme")
    assert view is not None and "500" in view["status"]["last_error"]


def test_a_diff_removing_too_many_is_held_unless_forced(
    fake: FakeBitbucket, redis_url: str
) -> None:
    store, _ = _sync(fake, redis_url)
    for n in range(600):
        team_data.remove_member(fake, "acme", n)
    _, held = _sync(fake, redis_url)
    assert held.held_reason and "maxRemovalRatio" in held.held_reason
    snapshot = store.snapshot("acme")
    assert snapshot is not None and len(snapshot) == MEMBERS
    view = store.view("acme")
    assert view is not None and len(view["held"]["removed"]) == 600
    _, forced = _sync(fake, redis_url, force=True)
    assert forced.applied
    snapshot = store.snapshot("acme")
    assert snapshot is not None and len(snapshot) == MEMBERS - 600


def test_cloud_groups_gone_falls_back_to_workspace_permissions(redis_url: str) -> None:
    with FakeBitbucket("cloud") as fake:
        team_data.seed(fake, "acme", 120, 3)
        fake.groups_status = 410
        store, report = _sync(fake, redis_url)
    assert report.applied
    assert any("410" in w for w in report.warnings)
    snapshot = store.snapshot("acme")
    assert snapshot is not None
    roles = {m.nickname: m.role for m in snapshot.values()}
    assert roles["user00000"] == "admin"  # owner
    assert roles["user00001"] == "viewer"  # member: unmapped, so the default


def test_the_cli_prints_the_diff_and_a_dry_run_writes_nothing(
    fake: FakeBitbucket, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = dataclasses.replace(
        _settings(fake),
        relay=RelaySettings(redis_url=redis_url, encryption_keys=(Secret(ENCRYPTION_KEY),)),
    )
    assert sync_teams_now(settings, None, dry_run=True, force=False) == 0
    assert TeamStore(redis.Redis.from_url(redis_url)).view("acme") is None
    assert sync_teams_now(settings, "acme", dry_run=False, force=False) == 0
    team_data.remove_member(fake, "acme", 7)
    assert sync_teams_now(settings, "acme", dry_run=False, force=False) == 0
    out = capsys.readouterr().out
    assert "acme: 1050 members; would change: 1050 added, 0 removed" in out
    assert "acme: 1049 members; synced: 0 added, 1 removed" in out
    assert "  - user00007" in out
