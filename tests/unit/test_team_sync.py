"""One team sync against a MockTransport Bitbucket (Cloud and DC shapes) and fakeredis."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal

import fakeredis
import httpx
import pytest
import redis
from structlog.testing import capture_logs

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.errors import (
    BitbucketRejected,
    BitbucketUnavailable,
    BucketEmpty,
    RateLimited,
    RetryableError,
)
from shared.bitbucket.factory import build_client
from shared.config.settings import (
    BitbucketSettings,
    Consumer,
    RateLimit,
    Settings,
    TeamSink,
    TeamsSettings,
    TeamSyncSettings,
)
from shared.secret import Secret
from shared.teams.store import SyncInProgress, TeamStore
from shared.teams.sync import TEAM_SYNC_TOKEN_WAIT, SyncReport, run_sync
from tests.conftest import SEALER

CLOUD_API = "https://api.bitbucket.org/2.0"
DC_BASE = "https://bitbucket.example.com"
MEMBERS = "/rest/api/latest/users?group"
MAPPING = {"admins": "admin", "developers": "member", "owner": "admin", "collaborator": "viewer"}
Product = Literal["cloud", "server"]


class FakeBitbucket:
    """The team endpoints of one workspace, serving `page_size` items a page whatever is asked.

    Cloud: /2.0/workspaces/{ws}/permissions (paged by `next`) and the unpaged 1.0 groups list.
    DC: /rest/api/latest/users, /groups and /users?group= (start/limit), none under /admin.
    """

    def __init__(self, product: Product, *, page_size: int = 2) -> None:
        self.product = product
        self.page_size = page_size
        self.people: dict[str, dict[str, Any]] = {}
        self.permissions: dict[str, str] = {}
        self.groups: dict[str, tuple[str, list[str]]] = {}
        self.inactive: set[str] = set()
        self.ids: dict[str, int] = {}
        self.failures: dict[tuple[str, int], httpx.Response] = {}
        self.requests: list[httpx.Request] = []
        self.on_request: Callable[[httpx.Request], None] | None = None

    def add(self, nick: str, permission: str = "member", groups: tuple[str, ...] = ()) -> None:
        self.people[nick] = {"nickname": nick, "display_name": nick.title()}
        self.ids.setdefault(nick, len(self.ids) + 1)
        self.permissions[nick] = permission
        for slug in groups:
            self.groups.setdefault(slug, (slug.title(), []))[1].append(nick)

    def remove(self, nick: str) -> None:
        del self.people[nick]
        for _, members in self.groups.values():
            if nick in members:
                members.remove(nick)

    def fail(self, path: str, page: int, response: httpx.Response) -> None:
        """Answer `response` to the `page`-th page (1-based) of `path`."""
        self.failures[(path, page)] = response

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if not r.url.path.endswith("/access_token")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/access_token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 7200})
        if self.on_request is not None:
            self.on_request(request)
        if self.product == "cloud":
            return self._cloud(request)
        return self._server(request)

    def _cloud(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/2.0/workspaces/acme/permissions":
            page = int(request.url.params.get("page", "1"))
            if (path, page) in self.failures:
                return self.failures[(path, page)]
            values = [
                {"user": self._cloud_user(nick), "permission": self.permissions[nick]}
                for nick in self.people
            ]
            start = (page - 1) * self.page_size
            body: dict[str, Any] = {"values": values[start : start + self.page_size]}
            if start + self.page_size < len(values):
                body["next"] = f"{CLOUD_API}/workspaces/acme/permissions?page={page + 1}"
            return httpx.Response(200, json=body)
        if path == "/1.0/groups/acme":
            if (path, 1) in self.failures:
                return self.failures[(path, 1)]
            groups = [
                {
                    "slug": slug,
                    "name": name,
                    "members": [self._cloud_user(nick) for nick in members],
                }
                for slug, (name, members) in self.groups.items()
            ]
            return httpx.Response(200, json=groups)
        return httpx.Response(404, json={"error": {"message": f"no {path}"}})

    def _cloud_user(self, nick: str) -> dict[str, Any]:
        return {"uuid": "{" + nick + "}", **self.people[nick]}

    def _server(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/rest/api/latest/users" and "group" in request.url.params:
            path = MEMBERS  # one group's members: failures are set apart from the user list
            _, members = self.groups[request.url.params["group"]]
            values = [{"name": nick, "slug": nick} for nick in members]
        elif path == "/rest/api/latest/users":
            values = [
                {
                    "id": self.ids[nick],
                    "name": nick,
                    "slug": nick,
                    "displayName": person["display_name"],
                    "active": nick not in self.inactive,
                }
                for nick, person in self.people.items()
            ]
        elif path == "/rest/api/latest/groups":
            values = list(self.groups)  # DC answers group names as plain strings
        else:
            return httpx.Response(404, json={"errors": [{"message": f"no {path}"}]})
        start = int(request.url.params.get("start", "0"))
        size = min(int(request.url.params.get("limit", "25")), self.page_size)
        page = start // size + 1
        if (path, page) in self.failures:
            return self.failures[(path, page)]
        last = start + size >= len(values)
        body = {"values": values[start : start + size], "isLastPage": last}
        if not last:
            body["nextPageStart"] = start + size
        return httpx.Response(200, json=body)


def _bitbucket_settings(product: Product, rate_limit: RateLimit) -> BitbucketSettings:
    if product == "cloud":
        return BitbucketSettings(
            consumers=(Consumer("client-1", Secret("s3cret")),), rate_limit=rate_limit
        )
    return BitbucketSettings(
        product="server",
        url=DC_BASE,
        api_url=f"{DC_BASE}/rest",
        token=Secret("dc-token"),
        rate_limit=rate_limit,
    )


def _settings(
    product: Product = "cloud",
    *,
    mapping: dict[str, str] | None = None,
    sink: TeamSink | None = None,
    rate_limit: RateLimit | None = None,
) -> Settings:
    return Settings(
        bitbucket=_bitbucket_settings(product, rate_limit or RateLimit(10_000, 500)),
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
        teams=TeamsSettings(
            mapping=MAPPING if mapping is None else mapping, default_role="viewer", sink=sink
        ),
    )


class Harness:
    """A fake Bitbucket, the real client and bucket on fakeredis, and the team store."""

    def __init__(self, product: Product = "cloud", **settings: Any) -> None:
        self.fake = FakeBitbucket(product)
        self.settings = _settings(product, **settings)
        self.redis: redis.Redis[bytes] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        self.store = TeamStore(self.redis)
        self.client: BitbucketClient = build_client(
            self.settings.bitbucket,
            self.redis,
            SEALER,
            transport=httpx.MockTransport(self.fake),
            sleep=lambda _: None,
        )

    def sync(self, **options: bool) -> SyncReport:
        return run_sync(self.client, self.store, self.settings, "acme", **options)

    def roles(self) -> dict[str, str]:
        snapshot = self.store.snapshot("acme")
        assert snapshot is not None
        return {member.nickname: member.role for member in snapshot.values()}

    def status(self) -> dict[str, str]:
        view = self.store.view("acme")
        assert view is not None
        status: dict[str, str] = view["status"]
        return status


def _seed(fake: FakeBitbucket) -> None:
    fake.add("ana", "owner")
    fake.add("bo", groups=("developers",))
    fake.add("cy", groups=("developers", "admins"))
    fake.add("di", groups=("testers",))
    fake.add("ed", "collaborator")


@pytest.fixture(params=["cloud", "server"])
def harness(request: pytest.FixtureRequest) -> Harness:
    h = Harness(request.param)
    _seed(h.fake)
    return h


def test_a_first_sync_maps_every_member_and_calls_them_all_added(harness: Harness) -> None:
    report = harness.sync()
    assert report.applied and report.members == 5
    expected = {"bo": "member", "cy": "admin", "di": "viewer"}
    if harness.fake.product == "cloud":
        expected |= {"ana": "admin", "ed": "viewer"}  # workspace permission as pseudo-group
    else:
        expected |= {"ana": "viewer", "ed": "viewer"}  # DC has no workspace permission
    assert harness.roles() == expected
    assert sorted(m.nickname for m in report.diff.added) == ["ana", "bo", "cy", "di", "ed"]
    assert not report.diff.removed and not report.diff.changed
    snapshot = harness.store.snapshot("acme")
    assert snapshot is not None
    cy = next(m for m in snapshot.values() if m.nickname == "cy")
    assert cy.display_name == "Cy"
    assert set(cy.groups) >= {"admins", "developers"}
    assert float(harness.status()["last_success"]) > 0


def test_the_next_sync_diffs_against_the_saved_snapshot(harness: Harness) -> None:
    harness.sync()
    harness.fake.add("fay", groups=("admins",))
    harness.fake.remove("di")
    harness.fake.groups["admins"][1].append("bo")
    report = harness.sync()
    assert [m.nickname for m in report.diff.added] == ["fay"]
    assert [m.nickname for m in report.diff.removed] == ["di"]
    [moved] = [change for change in report.diff.changed if "role" in change]
    assert (moved["nickname"], moved["role"]) == ("bo", ["member", "admin"])
    assert harness.sync().diff.empty


def test_pages_of_the_largest_size_the_api_allows_are_asked_for(harness: Harness) -> None:
    harness.sync()
    calls = harness.fake.api_calls()
    if harness.fake.product == "cloud":
        first = calls[0]
        assert first.url.path == "/2.0/workspaces/acme/permissions"
        assert first.url.params["pagelen"] == "100"
        assert len([c for c in calls if c.url.path.endswith("/permissions")]) == 3
    else:
        assert {c.url.params["limit"] for c in calls} == {"1000"}
        assert (
            len([c for c in calls if c.url.path.endswith("/users") and "group" not in c.url.params])
            == 3
        )


def test_a_page_failing_mid_read_changes_nothing_and_records_the_error(harness: Harness) -> None:
    harness.sync()
    before = harness.store.snapshot("acme")
    harness.fake.remove("ana")
    harness.fake.remove("bo")
    path = (
        "/2.0/workspaces/acme/permissions"
        if harness.fake.product == "cloud"
        else "/rest/api/latest/users"
    )
    harness.fake.fail(path, 2, httpx.Response(502, text="bad gateway"))
    with pytest.raises(BitbucketUnavailable):
        harness.sync()
    assert harness.store.snapshot("acme") == before
    assert "502" in harness.status()["last_error"]
    view = harness.store.view("acme")
    assert view is not None and view["held"] is None and view["outbox"] == 0


def test_a_member_list_failing_on_dc_changes_nothing() -> None:
    h = Harness("server")
    _seed(h.fake)
    h.sync()
    before = h.store.snapshot("acme")
    h.fake.groups["admins"][1].remove("cy")
    h.fake.fail(MEMBERS, 1, httpx.Response(500))
    with pytest.raises(BitbucketUnavailable):
        h.sync()
    assert h.store.snapshot("acme") == before


def test_a_rate_limited_page_propagates_for_celery_to_retry_and_changes_nothing() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    h.fake.fail(
        "/2.0/workspaces/acme/permissions", 2, httpx.Response(429, headers={"Retry-After": "30"})
    )
    with pytest.raises(RateLimited) as caught:
        h.sync()
    assert isinstance(caught.value, RetryableError) and caught.value.retry_after
    assert h.store.snapshot("acme") is None
    assert "429" in h.status()["last_error"]
    assert "last_success" not in h.status()


def test_groups_gone_leaves_roles_to_workspace_permissions_and_warns_once() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    h.fake.fail("/1.0/groups/acme", 1, httpx.Response(410, json={"error": {"message": "gone"}}))
    with capture_logs() as logs:
        report = h.sync()
    assert report.applied
    assert h.roles() == {"ana": "admin"} | dict.fromkeys(("bo", "cy", "di", "ed"), "viewer")
    [warning] = report.warnings
    assert "410" in warning and "workspace permissions" in warning
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["teams.partial_source"]
    assert "410" in h.status()["warnings"]


def test_groups_refused_for_another_reason_fails_the_sync() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    h.fake.fail("/1.0/groups/acme", 1, httpx.Response(403, json={"error": {"message": "no"}}))
    with pytest.raises(BitbucketRejected) as caught:
        h.sync()
    assert caught.value.status == 403
    assert h.store.snapshot("acme") is None


def test_inactive_dc_users_are_left_out_and_counted_in_a_warning() -> None:
    h = Harness("server")
    _seed(h.fake)
    h.fake.inactive.add("cy")
    report = h.sync()
    assert "cy" not in h.roles()
    assert report.warnings == ("1 inactive users left out",)


def test_removing_more_than_the_ratio_is_held_until_forced(harness: Harness) -> None:
    harness.sync()
    before = harness.store.snapshot("acme")
    for nick in ("ana", "bo", "cy"):
        harness.fake.remove(nick)
    held = harness.sync()
    assert not held.applied
    assert held.held_reason is not None and "maxRemovalRatio" in held.held_reason
    assert harness.store.snapshot("acme") == before
    view = harness.store.view("acme")
    assert view is not None
    assert sorted(m["nickname"] for m in view["held"]["removed"]) == ["ana", "bo", "cy"]
    forced = harness.sync(force=True)
    assert forced.applied and len(forced.diff.removed) == 3
    assert sorted(harness.roles()) == ["di", "ed"]
    view = harness.store.view("acme")
    assert view is not None and view["held"] is None


def test_removing_up_to_the_ratio_is_applied(harness: Harness) -> None:
    harness.sync()
    harness.fake.remove("ana")
    harness.fake.remove("bo")
    assert harness.sync().applied


def test_a_dry_run_reports_the_diff_and_writes_nothing(harness: Harness) -> None:
    report = harness.sync(dry_run=True)
    assert len(report.diff.added) == 5 and not report.applied
    assert harness.store.view("acme") is None


def test_a_sync_while_another_runs_is_refused_without_calling_bitbucket() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    refused: list[Exception] = []

    def second_sync(request: httpx.Request) -> None:
        h.fake.on_request = None
        calls = len(h.fake.requests)
        try:
            h.sync()
        except SyncInProgress as exc:
            refused.append(exc)
        assert len(h.fake.requests) == calls

    h.fake.on_request = second_sync
    assert h.sync().applied
    assert len(refused) == 1
    assert h.sync().diff.empty  # the lock was released


def test_the_lock_has_a_ttl_and_an_owner_token_while_a_sync_runs() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    seen: list[tuple[int, bytes | None]] = []

    def look(request: httpx.Request) -> None:
        key = "bbrelay:teams:acme:lock"
        seen.append((int(h.redis.pttl(key)), h.redis.get(key)))

    h.fake.on_request = look
    h.sync()
    assert all(ttl > 0 for ttl, _ in seen)
    assert len({token for _, token in seen}) == 1
    assert h.redis.get("bbrelay:teams:acme:lock") is None


def test_a_non_empty_diff_waits_in_the_outbox_when_a_sink_is_set() -> None:
    h = Harness(
        "cloud",
        sink=TeamSink(url="https://platform.example.com/teams", secret=Secret("sink-secret")),
    )
    _seed(h.fake)
    h.sync()
    assert h.sync().diff.empty
    h.fake.add("fay")
    h.sync()
    assert h.store.outbox_length("acme") == 2
    first = json.loads(h.redis.lindex("bbrelay:teams:acme:outbox", 0) or b"")
    second = json.loads(h.redis.lindex("bbrelay:teams:acme:outbox", 1) or b"")
    assert first["workspace"] == "acme" and len(first["added"]) == 5
    assert [m["nickname"] for m in second["added"]] == ["fay"]


def test_without_a_sink_nothing_is_queued() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    h.sync()
    assert h.store.outbox_length("acme") == 0


def test_a_cloud_group_can_be_mapped_by_its_name() -> None:
    h = Harness("cloud", mapping={"Release Managers": "admin"})
    h.fake.add("ana")
    h.fake.groups["release-managers"] = ("Release Managers", ["ana"])
    h.sync()
    assert h.roles() == {"ana": "admin"}


def test_a_diff_is_queued_for_the_sink_in_the_same_transaction_as_its_snapshot() -> None:
    h = Harness(
        "cloud",
        sink=TeamSink(url="https://platform.example.com/teams", secret=Secret("sink-secret")),
    )
    _seed(h.fake)
    pipeline = h.store.redis.pipeline

    def failing_pipeline(transaction: bool = True) -> Any:
        pipe = pipeline(transaction=transaction)

        def lost(*_: Any) -> None:
            raise redis.ConnectionError("connection lost")

        pipe.execute = lost
        return pipe

    h.store.redis.pipeline = failing_pipeline  # type: ignore[method-assign]
    with contextlib.suppress(redis.ConnectionError):
        h.sync()
    assert h.store.snapshot("acme") is None
    assert h.store.outbox_length("acme") == 0
    h.store.redis.pipeline = pipeline  # type: ignore[method-assign]
    h.sync()
    assert h.store.snapshot("acme") is not None
    assert h.store.outbox_length("acme") == 1


def test_a_dry_run_says_when_the_diff_would_be_held() -> None:
    h = Harness("cloud")
    _seed(h.fake)
    h.sync()
    for nick in ("ana", "bo", "cy"):
        h.fake.remove(nick)
    assert h.sync(dry_run=True).held_reason is not None


def test_a_sync_needing_more_calls_than_the_burst_waits_for_tokens_and_completes() -> None:
    """Team sync's client waits for the refill instead of failing (a retry would re-read)."""
    rate = RateLimit(requests_per_hour=5 + 20 * 3600, burst_size=5)  # 20 tokens a second
    h = Harness("server", rate_limit=rate)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    h.client = build_client(
        h.settings.bitbucket,
        h.redis,
        SEALER,
        transport=httpx.MockTransport(h.fake),
        sleep=sleep,
        max_inline_wait=TEAM_SYNC_TOKEN_WAIT,
    )
    for n in range(8):
        h.fake.add(f"user{n}", groups=(f"group{n}",))
    h.sync()
    assert len(h.roles()) == 8
    assert len(h.fake.requests) == 16  # 4 pages of users, 4 of groups, 8 member lists: burst 5
    assert waits, "the calls beyond the burst did not wait for tokens"
    impatient = Harness("server", rate_limit=RateLimit(requests_per_hour=1000, burst_size=5))
    for n in range(8):
        impatient.fake.add(f"user{n}", groups=(f"group{n}",))
    with pytest.raises(BucketEmpty):
        impatient.sync()
