"""Real Bitbucket webhook payloads as inventory documents of one shape on Cloud and DC."""

from __future__ import annotations

import json
from typing import Any

from shared.inventory import entities
from shared.inventory.live import seen_in
from tests.conftest import fixture_bytes

AT = "2026-01-01T00:00:00+00:00"
EMMA = "{a54f16da-24e9-4d7f-a3a7-b1ba2cd98aa3}"
CLOUD_REPO = "{673a6070-3421-46c9-9d48-90745f7bfe8e}"


def _payload(name: str) -> dict[str, Any]:
    return dict(json.loads(fixture_bytes(name)))


def test_cloud_approval_adds_its_user_to_the_pull_requests_approvers() -> None:
    seen = seen_in("cloud", "pullrequest:approved", _payload("cloud/pullrequest-approved.json"), AT)
    assert seen is not None and seen.workspace == "team_name"
    (document,) = seen.upserts
    assert document["id"] == f"{CLOUD_REPO}#1"
    assert document["repository"] == CLOUD_REPO
    assert document["author"] == EMMA
    assert document["reviewers"] == [EMMA]
    assert document["approvers"] == [EMMA]
    assert document["participants"] == [EMMA]
    assert document["source"] == {
        "repository": "team_name/repo_name",
        "branch": "branch2",
        "commit": "d3022fc0ca3d",
    }
    assert document["created_on"] == "2015-04-06T15:23:38.179678+00:00"


def test_cloud_unapproval_removes_its_user_from_the_approvers() -> None:
    payload = _payload("cloud/pullrequest-unapproved.json")
    seen = seen_in("cloud", "pullrequest:unapproved", payload, AT)
    assert seen is not None
    assert seen.upserts[0]["approvers"] == []


def test_server_and_cloud_pull_requests_have_the_same_keys() -> None:
    cloud = seen_in("cloud", "pullrequest:created", _payload("cloud/pullrequest-created.json"), AT)
    server = seen_in(
        "server", "pr:reviewer:approved", _payload("server/pr-reviewer-approved.json"), AT
    )
    assert cloud is not None and server is not None
    assert cloud.upserts[0].keys() == server.upserts[0].keys()
    document = server.upserts[0]
    assert server.workspace == "~gopher"
    assert document["id"] == "4#5"
    assert document["author"] == "3231"
    assert document["reviewers"] == ["2125"]
    assert document["approvers"] == ["2125"]
    assert document["participants"] == ["2125", "3231"]
    assert document["destination"]["branch"] == "master"
    assert document["created_on"] == "2019-03-01T09:31:15.860000+00:00"


def test_a_merged_pull_request_has_a_merge_time() -> None:
    payload = _payload("server/pr-merged.json")
    seen = seen_in("server", "pr:merged", payload, AT)
    assert seen is not None
    assert seen.upserts[0]["state"] == "MERGED"
    assert seen.upserts[0]["merged_on"] is not None


def test_a_server_deleted_pull_request_is_a_delete() -> None:
    seen = seen_in("server", "pr:deleted", _payload("server/pr-deleted.json"), AT)
    assert seen is not None
    assert seen.upserts == ()
    assert seen.deletes[0][0] == "pull_request"


def test_a_push_marks_the_repository_active_when_received() -> None:
    seen = seen_in("cloud", "repo:push", _payload("cloud/repo-push.json"), AT)
    assert seen is not None
    (repository,) = seen.upserts
    assert repository["type"] == "repository"
    assert repository["last_activity"] == AT
    refs = seen_in("server", "repo:refs_changed", _payload("server/repo-refs_changed.json"), AT)
    assert refs is not None
    assert refs.upserts[0].keys() == repository.keys()


def test_a_pipelines_build_status_is_a_pipeline_run() -> None:
    payload = _payload("cloud/repo-commit_status_updated.json")
    seen = seen_in("cloud", "repo:commit_status_updated", payload, AT)
    assert seen is not None and seen.workspace == "automationtestharness"
    (run,) = seen.upserts
    assert run["type"] == "pipeline_run"
    assert run["repository"] == "{2b922c6d-3824-4e91-a7be-90c8b8392f84}"
    assert run["commit"] == "bdf6fac0519ffd1562461eb82e018ff62efffbc9"
    assert run["state"] == run["result"] == "SUCCESSFUL"


def test_another_cis_build_status_is_no_pipeline_run() -> None:
    payload = _payload("cloud/repo-commit_status_updated.json")
    payload["commit_status"]["url"] = "https://ci.example.com/job/7"
    assert seen_in("cloud", "repo:commit_status_updated", payload, AT) is None


def test_users_of_both_products_have_the_same_shape() -> None:
    cloud = entities.user("cloud", {"uuid": "{u}", "nickname": "bo", "display_name": "Bo"})
    server = entities.user("server", {"id": 7, "slug": "bo", "displayName": "Bo"})
    assert cloud == {"type": "user", "id": "{u}", "name": "bo", "display_name": "Bo"}
    assert server == {"type": "user", "id": "7", "name": "bo", "display_name": "Bo"}
