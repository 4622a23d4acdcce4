"""The Bitbucket client on httpx MockTransport and fakeredis: auth, errors, paging, dry-run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import fakeredis
import httpx
import pytest
import redis
from prometheus_client import REGISTRY

from shared.bitbucket.client import (
    FIND_MAX_PAGES,
    FIND_PAGE_SIZE,
    JOB_ID_VARIABLE,
    BitbucketClient,
    NotSupported,
)
from shared.bitbucket.errors import (
    AuthFailed,
    BitbucketRejected,
    BitbucketUnavailable,
    BucketEmpty,
    ForbiddenHost,
    LimiterUnavailable,
    RateLimited,
)
from shared.bitbucket.factory import build_client
from shared.bitbucket.models import BuildStatus
from shared.bitbucket.transport import retry_after
from shared.config.settings import BitbucketSettings, Consumer, RateLimit
from shared.secret import Secret
from tests.conftest import SEALER

CLOUD = "https://api.bitbucket.org/2.0"
SHA = "d7f300a32270053bdfd97a6d64113f58202c33e7"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A tiny Bitbucket: a handler per test, every request kept."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if "oauth2" not in r.url.path]


def _token_then(api: Handler, *, expires_in: int = 7200) -> Handler:
    issued: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/access_token"):
            issued.append(f"tok-{len(issued) + 1}")
            return httpx.Response(
                200,
                json={
                    "access_token": issued[-1],
                    "token_type": "bearer",
                    "expires_in": expires_in,
                    "scopes": "repository webhook",
                },
            )
        return api(request)

    return handle


def _settings(**changes: Any) -> BitbucketSettings:
    base = BitbucketSettings(
        consumers=(Consumer("client-1", Secret("s3cret")),),
        rate_limit=RateLimit(requests_per_hour=1000, burst_size=50),
    )
    return dataclasses.replace(base, **changes)


def _client(
    recorder: Recorder,
    redis_client: redis.Redis[bytes] | None = None,
    settings: BitbucketSettings | None = None,
    sleeps: list[float] | None = None,
) -> BitbucketClient:
    sleeps = sleeps if sleeps is not None else []
    return build_client(
        settings or _settings(),
        redis_client or fakeredis.FakeRedis(),
        SEALER,
        transport=httpx.MockTransport(recorder),
        sleep=sleeps.append,
    )


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"state": "INPROGRESS"})


STATUS = BuildStatus("INPROGRESS", "datachain-processing", "Data", "https://studio/jobs/1")


def test_first_call_fetches_a_token_and_the_next_reuses_it() -> None:
    recorder = Recorder(_token_then(_ok))
    client = _client(recorder)
    client.post_build_status("ws/repo", SHA, STATUS)
    client.post_build_status("ws/repo", SHA, STATUS)
    token_calls = [r for r in recorder.requests if r.url.path.endswith("/access_token")]
    assert len(token_calls) == 1
    assert token_calls[0].headers["Authorization"].startswith("Basic ")
    api = recorder.api_calls()
    assert [r.headers["Authorization"] for r in api] == ["Bearer tok-1", "Bearer tok-1"]
    assert api[0].url.path == f"/2.0/repositories/ws/repo/commit/{SHA}/statuses/build"
    assert json.loads(api[0].content)["key"] == "datachain-processing"


def test_the_token_is_shared_through_redis_by_clients_of_other_processes() -> None:
    shared = fakeredis.FakeRedis()
    first, second = Recorder(_token_then(_ok)), Recorder(_token_then(_ok))
    _client(first, shared).post_build_status("ws/repo", SHA, STATUS)
    _client(second, shared).post_build_status("ws/repo", SHA, STATUS)
    assert [r.url.path for r in second.requests if "access_token" in r.url.path] == []
    assert second.api_calls()[0].headers["Authorization"] == "Bearer tok-1"


def test_a_refused_token_is_refreshed_once_and_the_call_succeeds() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(401, json={"type": "error", "error": {"message": "expired"}})
        return httpx.Response(201, json={})

    recorder = Recorder(_token_then(api))
    _client(recorder).post_build_status("ws/repo", SHA, STATUS)
    assert [r.headers["Authorization"] for r in recorder.api_calls()] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_a_token_refused_twice_fails_with_a_clear_error() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"type": "error", "error": {"message": "revoked"}})

    recorder = Recorder(_token_then(api))
    with pytest.raises(AuthFailed, match="revoked"):
        _client(recorder).post_build_status("ws/repo", SHA, STATUS)
    assert len(recorder.api_calls()) == 2


def test_bad_client_credentials_fail_with_a_message_naming_the_consumer() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_client"})

    with pytest.raises(AuthFailed, match="client-1"):
        _client(Recorder(handle)).post_build_status("ws/repo", SHA, STATUS)


def test_429_pauses_the_consumer_and_raises_rate_limited() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"type": "error", "error": {"message": "slow down"}})

    recorder = Recorder(_token_then(api))
    client = _client(recorder)
    client.sender.max_inline_wait = 0.1  # type: ignore[attr-defined]
    with pytest.raises(RateLimited) as raised:
        client.post_build_status("ws/repo", SHA, STATUS)
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    with pytest.raises(BucketEmpty):
        client.post_build_status("ws/repo", SHA, STATUS)
    assert len(recorder.api_calls()) == 1


def test_a_server_retry_after_header_is_honoured() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "42"}, json={"errors": []})

    settings = _settings(token=Secret("pat"), product="server", api_url="https://bb.corp/rest")
    with pytest.raises(RateLimited) as raised:
        _client(Recorder(api), settings=settings).resolve_commit("PRJ/repo", "abc1234")
    assert raised.value.retry_after == 42


def test_5xx_and_dropped_connections_are_retryable_and_not_retried_here() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    recorder = Recorder(_token_then(api))
    with pytest.raises(BitbucketUnavailable, match="502"):
        _client(recorder).post_build_status("ws/repo", SHA, STATUS)
    assert len(recorder.api_calls()) == 1

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    with pytest.raises(BitbucketUnavailable):
        _client(Recorder(_token_then(drop))).post_build_status("ws/repo", SHA, STATUS)


def test_other_4xx_carry_bitbuckets_message() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        body = {"type": "error", "error": {"message": "Repository ws/nope not found"}}
        return httpx.Response(404, json=body)

    with pytest.raises(BitbucketRejected, match="Repository ws/nope not found") as raised:
        _client(Recorder(_token_then(api))).resolve_commit("ws/nope", "abc1234")
    assert raised.value.status == 404


def test_server_error_bodies_are_read_too() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"errors": [{"message": "Invalid state"}]})

    settings = _settings(token=Secret("pat"), product="server", api_url="https://bb.corp/rest")
    with pytest.raises(BitbucketRejected, match="Invalid state"):
        _client(Recorder(api), settings=settings).post_build_status("PRJ/repo", SHA, STATUS)


def test_an_explicit_token_wins_over_the_oauth_consumer() -> None:
    recorder = Recorder(_ok)
    _client(recorder, settings=_settings(token=Secret("pat"))).post_build_status(
        "ws/repo", SHA, STATUS
    )
    assert [r.headers["Authorization"] for r in recorder.requests] == ["Bearer pat"]


def test_basic_credentials_are_sent_as_basic_auth() -> None:
    recorder = Recorder(_ok)
    settings = _settings(username="me@example.com", password=Secret("api-token"))
    _client(recorder, settings=settings).post_build_status("ws/repo", SHA, STATUS)
    assert recorder.requests[0].headers["Authorization"].startswith("Basic ")


def test_an_empty_bucket_waits_inline_when_short_and_defers_when_long() -> None:
    recorder = Recorder(_token_then(_ok))
    sleeps: list[float] = []
    tight = _settings(rate_limit=RateLimit(requests_per_hour=3601 + 2, burst_size=2))
    client = _client(recorder, settings=tight, sleeps=sleeps)
    for _ in range(2):
        client.post_build_status("ws/repo", SHA, STATUS)
    assert sleeps == []
    slow = _settings(rate_limit=RateLimit(requests_per_hour=10, burst_size=2))
    client = _client(Recorder(_token_then(_ok)), settings=slow, sleeps=sleeps)
    client.post_build_status("ws/repo", SHA, STATUS)
    client.post_build_status("ws/repo", SHA, STATUS)
    with pytest.raises(BucketEmpty) as raised:
        client.post_build_status("ws/repo", SHA, STATUS)
    assert raised.value.retry_after is not None and raised.value.retry_after > 1


def test_redis_down_means_the_call_is_not_made() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    recorder = Recorder(_token_then(_ok))
    with pytest.raises(LimiterUnavailable):
        _client(recorder, fakeredis.FakeRedis(server=server)).post_build_status(
            "ws/repo", SHA, STATUS
        )
    assert recorder.api_calls() == []


def test_cloud_pages_follow_next_links_on_the_same_host_only() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        values = [{"user": {"uuid": f"{{u{page}}}", "nickname": f"n{page}"}}]
        body: dict[str, Any] = {"values": values, "pagelen": 100}
        if page < 3:
            body["next"] = f"{CLOUD}/workspaces/ws/members?page={page + 1}"
        return httpx.Response(200, json=body)

    recorder = Recorder(_token_then(api))
    members = list(_client(recorder).iter_workspace_members("ws"))
    assert [m.name for m in members] == ["n1", "n2", "n3"]
    assert recorder.api_calls()[0].url.params["pagelen"] == "100"

    def hostile(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"values": [], "next": "https://evil.example/steal"})

    with pytest.raises(ForbiddenHost):
        list(_client(Recorder(_token_then(hostile))).iter_workspace_members("ws"))


def test_server_pages_follow_next_page_start() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        last = start >= 2
        body = {"values": [{"name": f"g{start}"}], "isLastPage": last, "start": start}
        if not last:
            body["nextPageStart"] = start + 1
        return httpx.Response(200, json=body)

    settings = _settings(token=Secret("pat"), product="server", api_url="https://bb.corp/rest")
    recorder = Recorder(api)
    groups = list(_client(recorder, settings=settings).iter_groups("ignored"))
    assert [g.name for g in groups] == ["g0", "g1", "g2"]
    assert recorder.requests[0].url.path == "/rest/api/latest/groups"


def test_paging_is_bounded() -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"values": [{}], "next": f"{CLOUD}/workspaces/ws/members"})

    client = _client(Recorder(_token_then(endless)))
    client.max_pages = 5
    with pytest.raises(BitbucketRejected, match="more than 5 pages"):
        list(client.iter_workspace_members("ws"))


def test_pipelines_are_refused_on_server() -> None:
    settings = _settings(token=Secret("pat"), product="server", api_url="https://bb.corp/rest")
    with pytest.raises(NotSupported):
        _client(Recorder(_ok), settings=settings).trigger_pipeline("PRJ/r", {}, [])


def test_dry_run_sends_nothing_and_answers_harmlessly() -> None:
    client = build_client(BitbucketSettings(), fakeredis.FakeRedis(), SEALER)
    client.post_build_status("ws/repo", SHA, STATUS)
    pipeline = client.trigger_pipeline("ws/repo", {"type": "pipeline_ref_target"}, [])
    assert pipeline.state == "PENDING"
    assert client.resolve_commit("ws/repo", "d7f300a") == "d7f300a"
    assert list(client.iter_workspace_members("ws")) == []


JOB = "job-7"
JOB_CREATED = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def _run(number: int, minutes_after_job: float, variables: list[dict[str, Any]] | None) -> Any:
    """A listed Cloud `pipeline` object; `variables` None leaves the field out."""
    created = datetime.fromtimestamp(JOB_CREATED + 60 * minutes_after_job, UTC)
    run: dict[str, Any] = {
        "type": "pipeline",
        "uuid": f"{{run-{number}}}",
        "build_number": number,
        "state": {"name": "IN_PROGRESS", "type": "pipeline_state"},
        "created_on": created.isoformat(),
    }
    if variables is not None:
        run["variables"] = variables
    return run


def _job_var(value: str) -> dict[str, Any]:
    return {"type": "pipeline_variable", "key": JOB_ID_VARIABLE, "value": value, "secured": False}


def _pipeline_pages(*pages: list[Any], endless: bool = False) -> Handler:
    """The pipelines list in pages of Cloud's shape; `endless` always offers a next page."""

    def api(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        values = pages[number - 1] if number <= len(pages) else pages[-1]
        body: dict[str, Any] = {"page": number, "pagelen": FIND_PAGE_SIZE, "values": values}
        if endless or number < len(pages):
            body["next"] = f"{CLOUD}/repositories/ws/repo/pipelines/?page={number + 1}"
        return httpx.Response(200, json=body)

    return api


def _find(recorder: Recorder) -> Any:
    client = _client(recorder)
    return client.find_pipeline_for_job("ws/repo", SHA, JOB, created_after=JOB_CREATED)


def test_the_run_carrying_the_job_id_is_found_on_the_second_page() -> None:
    first = [_run(9, 5, [_job_var("job-8")]), _run(8, 4, [])]
    second = [_run(7, 3, [{"key": "OTHER", "value": JOB}, _job_var(JOB)])]
    recorder = Recorder(_token_then(_pipeline_pages(first, second)))

    found = _find(recorder)

    assert (found.uuid, found.build_number, found.variable(JOB_ID_VARIABLE)) == ("{run-7}", 7, JOB)
    query = recorder.api_calls()[0].url.params
    assert recorder.api_calls()[0].url.path == "/2.0/repositories/ws/repo/pipelines/"
    assert (query["target.commit.hash"], query["sort"]) == (SHA, "-created_on")
    assert query["pagelen"] == str(FIND_PAGE_SIZE)


def test_no_run_with_the_job_id_means_none() -> None:
    page = [_run(2, 1, [_job_var("job-other")]), _run(1, 0, [])]
    recorder = Recorder(_token_then(_pipeline_pages(page)))
    assert _find(recorder) is None
    assert len(recorder.api_calls()) == 1


def test_a_run_without_the_variable_or_with_it_secured_is_not_the_jobs() -> None:
    secured = {**_job_var(""), "secured": True}
    page = [_run(3, 2, [{"key": "DATACHAIN_TRIGGER", "value": "git_push"}]), _run(2, 1, [secured])]
    assert _find(Recorder(_token_then(_pipeline_pages(page)))) is None


def test_a_listed_run_without_variables_is_read_by_uuid() -> None:
    listing = _pipeline_pages([_run(4, 1, None)])

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pipelines/"):
            return listing(request)
        return httpx.Response(200, json=_run(4, 1, [_job_var(JOB)]))

    recorder = Recorder(_token_then(api))
    assert _find(recorder).uuid == "{run-4}"
    assert recorder.api_calls()[1].url.path == "/2.0/repositories/ws/repo/pipelines/{run-4}"


def test_the_search_stops_at_a_run_older_than_the_job() -> None:
    page = [_run(6, 1, []), _run(5, -60, [_job_var(JOB)]), _run(4, -61, None)]
    recorder = Recorder(_token_then(_pipeline_pages(page, endless=True)))
    assert _find(recorder) is None
    assert len(recorder.api_calls()) == 1


def test_the_search_reads_a_bounded_number_of_pages() -> None:
    page = [_run(n, 10, [_job_var("job-other")]) for n in range(3)]
    recorder = Recorder(_token_then(_pipeline_pages(page, endless=True)))
    assert _find(recorder) is None
    assert len(recorder.api_calls()) == FIND_MAX_PAGES


def test_dry_run_finds_no_pipeline() -> None:
    client = build_client(BitbucketSettings(), fakeredis.FakeRedis(), SEALER)
    assert client.find_pipeline_for_job("ws/repo", SHA, JOB) is None


def _server(api: Handler, **changes: Any) -> tuple[BitbucketClient, Recorder]:
    settings = _settings(token=Secret("pat"), product="server", url="https://bb.corp", **changes)
    recorder = Recorder(api)
    return _client(recorder, settings=settings), recorder


def test_dc_build_capabilities_are_the_names_dc_answers() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"buildStatus": ["richBuildStatus", "cancelledStatus"]})

    client, _ = _server(api, api_url="https://bb.corp/rest")
    assert client.build_capabilities() == frozenset({"richBuildStatus", "cancelledStatus"})


def test_dc_whoami_comes_from_the_configured_url_however_api_url_is_spelled() -> None:
    client, recorder = _server(
        lambda r: httpx.Response(200, text="svc"), api_url="https://bb.corp/rest/"
    )
    assert client.current_user().name == "svc"
    assert str(recorder.requests[0].url) == "https://bb.corp/plugins/servlet/applinks/whoami"


def test_dc_team_reads_stay_outside_admin() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/groups"):
            return httpx.Response(200, json={"values": ["devs"], "isLastPage": True})
        user = {"name": "jane", "id": 1, "slug": "jane", "active": True}
        return httpx.Response(200, json={"values": [user], "isLastPage": True})

    client, recorder = _server(api, api_url="https://bb.corp/rest")
    assert [g.name for g in client.iter_groups("")] == ["devs"]
    assert [u.name for u in client.iter_group_members("", "devs")] == ["jane"]
    assert [r.url.path for r in recorder.requests] == [
        "/rest/api/latest/groups",
        "/rest/api/latest/users",
    ]
    assert recorder.requests[1].url.params["group"] == "devs"
    assert all("/admin/" not in r.url.path for r in recorder.requests)


def test_dc_webhook_event_keys_come_from_the_servers_capabilities() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/rest/webhooks/latest/capabilities"
        return httpx.Response(
            200, json={"application-webhooks": ["repo:refs_changed", "pr:opened"]}
        )

    client, _ = _server(api, api_url="https://bb.corp/rest")
    assert client.webhook_event_keys() == frozenset({"repo:refs_changed", "pr:opened"})


def test_a_retry_after_http_date_becomes_seconds() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC).timestamp()
    assert retry_after(response, now=now) == 60
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_the_bucket_follows_the_limit_bitbucket_announces_and_shows_it() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        headers = {
            "X-RateLimit-Limit": "2500",
            "X-RateLimit-Resource": "api",
            "X-RateLimit-NearLimit": "false",
        }
        return httpx.Response(201, headers=headers, json={"state": "INPROGRESS"})

    redis_client = fakeredis.FakeRedis()
    client = _client(Recorder(_token_then(api)), redis_client)
    client.post_build_status("ws/repo", SHA, STATUS)
    bucket = client.sender.pool.bucket  # type: ignore[attr-defined]
    assert bucket.per_hour("oauth:client-1", "api") == 2500
    gauge = REGISTRY.get_sample_value(
        "bbrelay_bitbucket_rate_limit_per_hour", {"consumer": "oauth:client-1", "resource": "api"}
    )
    assert gauge == 2500


def test_a_configured_requests_per_hour_caps_the_announced_limit() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        headers = {"X-RateLimit-Limit": "10000", "X-RateLimit-Resource": "api"}
        return httpx.Response(201, headers=headers, json={"state": "INPROGRESS"})

    settings = _settings(rate_limit=RateLimit(requests_per_hour=600, burst_size=50, ceiling=600))
    client = _client(Recorder(_token_then(api)), settings=settings)
    client.post_build_status("ws/repo", SHA, STATUS)
    assert client.sender.pool.bucket.per_hour("oauth:client-1", "api") == 600  # type: ignore[attr-defined]
