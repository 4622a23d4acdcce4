"""Dry-run answers have the real API's shapes: each is checked against the fixture of its call.

Where no real response is stored (see fixtures/bitbucket/SOURCES.md), the answer is checked
against the shape the client parses, written out below and marked "no fixture".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import fakeredis
import httpx
import pytest
from structlog.testing import capture_logs

from shared.bitbucket.client import BitbucketClient
from shared.bitbucket.dryrun import DryRunSender
from shared.bitbucket.models import BuildStatus, WebhookSpec
from shared.config.settings import BitbucketSettings, Product, Settings, TeamSyncSettings
from shared.teams.store import TeamStore
from shared.teams.sync import run_sync
from tests.conftest import FIXTURES

SHA = "046d9a3c1532acf4cf08fe93235c00e4d673c1d2"
STATUS = BuildStatus(state="INPROGRESS", key="ci", name="ci (push)", url="https://ci/1")
HOOK = WebhookSpec("https://relay/api/webhooks/bitbucket", ("repo:push",), "relay", "s3cret")

# No fixture: the shapes the client parses (shared/bitbucket/client.py and models.py).
CLOUD_USER = {
    "type": "user",
    "uuid": "{u}",
    "account_id": "a",
    "display_name": "A",
    "nickname": "a",
}
SERVER_COMMIT = {"id": SHA, "displayId": SHA[:11]}
STATE = {"type": "t", "name": "COMPLETED", "result": {"type": "t", "name": "SUCCESSFUL"}}
PIPELINE = {"type": "pipeline", "uuid": "{p}", "build_number": 1, "state": STATE}
CAPABILITIES = {"buildStatus": ["richBuildStatus"]}
V1_GROUPS = [{"slug": "admins", "name": "Admins", "members": [CLOUD_USER]}]
V1_MEMBERS = [CLOUD_USER]
NO_CONTENT = None


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


CLOUD_PAGE = "cloud/api/spec-example-workspace-permissions.json"
SERVER_PAGE = "server/api/repo-webhooks.json"


class Recording:
    """Passes each call to the dry-run sender and keeps its answer."""

    def __init__(self, product: Product) -> None:
        self.inner = DryRunSender(product)
        self.answers: list[httpx.Response] = []

    def send(
        self,
        method: str,
        url: str,
        group: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        response = self.inner.send(method, url, group, params=params, json=json)
        self.answers.append(response)
        return response


def _problems(answer: Any, real: Any, where: str = "$") -> list[str]:
    """Where `answer` leaves the shape of `real`: a key it lacks, another JSON type."""
    if real is None:
        return []
    if isinstance(real, dict):
        if not isinstance(answer, dict):
            return [f"{where}: {type(answer).__name__}, not an object"]
        return [
            problem
            for key, value in answer.items()
            for problem in (
                _problems(value, real[key], f"{where}.{key}")
                if key in real
                else [f"{where}.{key}: not in the real answer"]
            )
        ]
    if isinstance(real, list):
        if not isinstance(answer, list):
            return [f"{where}: {type(answer).__name__}, not a list"]
        return [p for item in answer if real for p in _problems(item, real[0], f"{where}[]")]
    kinds = {bool: "bool", int: "number", float: "number", str: "string"}
    if kinds.get(type(answer)) != kinds.get(type(real)):
        return [f"{where}: {type(answer).__name__}, real one is {type(real).__name__}"]
    return []


Call = Callable[[BitbucketClient], object]
CASES: list[tuple[str, Product, Call, Any]] = [
    ("current_user", "cloud", lambda c: c.current_user(), CLOUD_USER),
    ("resolve_commit", "cloud", lambda c: c.resolve_commit("ws/r", SHA[:12]),
     _fixture("cloud/api/commit-status-build.json")["commit"]),
    ("resolve_commit", "server", lambda c: c.resolve_commit("P/r", SHA[:12]), SERVER_COMMIT),
    ("post_build_status", "cloud", lambda c: c.post_build_status("ws/r", SHA, STATUS),
     _fixture("cloud/api/commit-status-build.json")),
    ("post_build_status", "server", lambda c: c.post_build_status("P/r", SHA, STATUS),
     NO_CONTENT),
    ("build_capabilities", "server", lambda c: c.build_capabilities(), CAPABILITIES),
    ("trigger_pipeline", "cloud", lambda c: c.trigger_pipeline("ws/r", {}, []), PIPELINE),
    ("get_pipeline", "cloud", lambda c: c.get_pipeline("ws/r", "{p}"), PIPELINE),
    ("stop_pipeline", "cloud", lambda c: c.stop_pipeline("ws/r", "{p}"), NO_CONTENT),
    ("iter_workspace_members", "cloud", lambda c: list(c.iter_workspace_members("ws")),
     _fixture(CLOUD_PAGE)),
    ("iter_workspace_permissions", "cloud",
     lambda c: list(c.iter_workspace_permissions("ws")), _fixture(CLOUD_PAGE)),
    ("iter_groups", "cloud", lambda c: list(c.iter_groups("ws")), V1_GROUPS),
    ("iter_group_members", "cloud", lambda c: list(c.iter_group_members("ws", "g")), V1_MEMBERS),
    ("iter_users", "server", lambda c: list(c.iter_users()), _fixture(SERVER_PAGE)),
    ("iter_groups", "server", lambda c: list(c.iter_groups("")), _fixture(SERVER_PAGE)),
    ("iter_group_members", "server", lambda c: list(c.iter_group_members("", "g")),
     _fixture(SERVER_PAGE)),
    ("iter_repositories", "cloud", lambda c: list(c.iter_repositories("ws")),
     _fixture("cloud/api/repository-hooks.json")),
    ("iter_repositories", "server", lambda c: list(c.iter_repositories("P")),
     _fixture(SERVER_PAGE)),
    ("list_hooks", "cloud", lambda c: c.list_hooks("repository", "ws/r"),
     _fixture("cloud/api/repository-hooks.json")),
    ("list_hooks", "server", lambda c: c.list_hooks("repository", "P/r"), _fixture(SERVER_PAGE)),
    ("create_hook", "cloud", lambda c: c.create_hook("repository", "ws/r", HOOK),
     _fixture("cloud/api/repository-hook.json")),
    ("create_hook", "server", lambda c: c.create_hook("repository", "P/r", HOOK),
     _fixture("server/api/repo-webhook-created.json")),
    ("update_hook", "cloud", lambda c: c.update_hook("repository", "ws/r", "{h}", HOOK),
     _fixture("cloud/api/repository-hook.json")),
    ("update_hook", "server", lambda c: c.update_hook("repository", "P/r", "1", HOOK),
     _fixture("server/api/repo-webhook-created.json")),
]  # fmt: skip


def _client(product: Product) -> tuple[BitbucketClient, Recording]:
    sender = Recording(product)
    api = "https://api.bitbucket.org/2.0" if product == "cloud" else "https://bb.example.com/rest"
    return BitbucketClient(product, api, sender), sender


@pytest.mark.parametrize(("verb", "product", "call", "real"), CASES)
def test_each_dry_run_answer_has_the_real_shape_of_its_call(
    verb: str, product: Product, call: Call, real: Any
) -> None:
    client, sender = _client(product)
    with capture_logs():
        call(client)
    assert sender.answers, f"{verb} made no call"
    for answer in sender.answers:
        if real is NO_CONTENT:
            assert answer.status_code == 204
            continue
        assert _problems(answer.json(), real) == [], f"{product} {verb}"
        assert type(answer.json()) is type(real)


def test_dry_run_server_whoami_answers_a_plain_user_name() -> None:
    client, _ = _client("server")
    with capture_logs():
        assert client.current_user().name == "dry-run"


def test_dry_run_build_capabilities_are_dc_capability_names() -> None:
    client, _ = _client("server")
    with capture_logs():
        assert "cancelledStatus" in client.build_capabilities()


@pytest.mark.parametrize("product", ["cloud", "server"])
def test_a_dry_run_team_sync_finds_nobody_and_changes_nothing(product: Product) -> None:
    settings = Settings(
        bitbucket=BitbucketSettings(product=product),
        team_sync=TeamSyncSettings(enabled=True, workspace_whitelist=("acme",)),
    )
    store = TeamStore(fakeredis.FakeRedis())
    client, _ = _client(product)
    with capture_logs():
        report = run_sync(client, store, settings, "acme", dry_run=True)
    assert (report.members, report.diff.empty, report.applied) == (0, True, False)
